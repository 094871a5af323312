/**
 * What the adapters, tests and benchmarks share inside this repository. Not a package
 * entry: the public API is `runtime/index.ts` and each adapter's index (docs/runtime-api.md).
 */
export * from '../actors/keepalive.ts';
export * from './codec/index.ts';
export * from './host.ts';
export * from './store.ts';
export { TimerQueue } from './timer-queue.ts';
export { PLATFORM_TIMERS, WakeTimer, type TimerApi, type WakeTimerOptions } from './wake-timer.ts';
export * from './sockets.ts';
export * from './libvirt-negotiation.ts';
export * from './sessions.ts';
export { withRestartGrace } from './restart-grace.ts';
export { newConnectionId } from './connection-id.ts';
export * from './inspector/index.ts';
export * from './client/session.ts';
export * from './cli.ts';
export * from './settings.ts';
export * from './application/index.ts';
export * from './hub/connect.ts';
export * from './hub/routes.ts';
export * from './hub/assemble.ts';
export * from './hub/server.ts';
export type { Cluster, ClusterOptions, ClusterStatus } from './cluster/cluster.ts';
export type { HubPlace, RemoteHub } from './application/remote.ts';
export { HubMetrics, endReason, type ClusterGauges } from './metrics/hub-metrics.ts';
export { CONTENT_TYPE as METRICS_CONTENT_TYPE, mergeExpositions } from './metrics/exposition.ts';
export * from './client/keepalive-client.ts';
export * from './client/events.ts';
export * from './client/options.ts';
export { webSocketLine } from './client/web-socket-line.ts';
