/**
 * The Worker's module (wrangler.toml `main`): the fetch handler and the Durable Object
 * class. workerd accepts only handlers and classes as a main module's exports, so
 * anything else lives in the files beside this one.
 */
export { KeepaliveHub } from './hub.ts';
export { default } from './worker.ts';
export type { Env } from './config.ts';
// Types only (erased): what a subclass's hooks take.
export type { Admission, AppData, CloseInfo, Connection, DeadVerdict, Hub, PresenceEntry, PresenceVerdict } from '../../runtime/application/index.ts';
export type { EndCause, PresenceState } from '../../runtime/protocol/index.ts';
