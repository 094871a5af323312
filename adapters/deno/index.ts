/**
 * `keepalive-actors/deno`: the Deno server (local timer, or serverless with Deno KV and its
 * queue), the Deno client, and the KV snapshot store.
 */
export { startServer, type CloseOptions, type ClusterOptions, type RunningServer, type ServerOptions } from './server.ts';
export { connect, KeepaliveClient, type ConnectOptions, type ReadyState } from './client.ts';
export { KvSnapshotStore, DEFAULT_KV_PREFIX, type KvSnapshotStoreOptions } from './kv-store.ts';
export { QueueTimer, isWakeMessage, type QueueTimerOptions, type QueueTimerStats, type WakeMessage } from './queue-timer.ts';
