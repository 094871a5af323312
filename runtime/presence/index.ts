// What other rooms and the adapters import from runtime/presence/ (docs/runtime-api.md).
export { encode as encodePresence, PresenceFeed, type PresenceFeedOptions, type PresenceTimers } from './feed.ts';
export { PresenceModel, type PresenceDiff, type PresenceMember } from './model.ts';
export { MemoryPresenceStates, type PresenceStates, type StoredPresence } from './states.ts';
