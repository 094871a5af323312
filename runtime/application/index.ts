export * from './types.ts';
export * from './events.ts';
export { Application, presenceOf, type ApplicationOptions } from './application.ts';
export { Outbox, type OutboxOptions } from './outbox.ts';
export { DeferredDeleteStore, type TransactionalStore } from './deferred-delete-store.ts';
export { admit, isPeerName, isResponse, PEER_META, PEER_PARAM, PRESENCE_META, refusal, type Admitted, type PresenceMark } from './peer.ts';
export { EVENT_ID_HEADER, retryDelays, SIGNATURE_HEADER, signBody, verifySignature, WebhookSender, type WebhookOptions, type WebhookResult } from './webhook.ts';
export type { HubPlace, RemoteHub } from './remote.ts';
