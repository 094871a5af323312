/**
 * The package root, `keepalive-actors`: what a user builds with beside a server of ours.
 * The statechart and its types, the `Host` that runs many of them, the store and timer
 * it takes (with their in-memory versions), the codecs' public face, the hook types, and
 * the webhook signature check. Every name is listed in docs/runtime-api.md.
 */
export { keepaliveMachine, type KeepaliveContext, type KeepaliveEvent, type KeepaliveMessage, type KeepaliveOptions } from '../actors/keepalive.ts';
export { Host, type ConnectionView, type HostEvent, type HostOptions, type OpenOptions, type Transport } from './host/index.ts';
export { MemorySnapshotStore, type ConnectionId, type SnapshotStore, type StoredConnection } from './host/index.ts';
export { WakeTimer, type TimerApi } from './host/index.ts';
export { createCodec, FrameError, TEXT_FRAMES, type CodecSpec, type Frame } from './codec/index.ts';
export type { Admission, AppData, CloseInfo, Connection, DeadVerdict, Hooks, Hub } from './application/index.ts';
export { verifySignature } from './application/index.ts';
