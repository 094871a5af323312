// What other rooms and the adapters import from runtime/cluster/ (docs/runtime-api.md).
export * from './cluster.ts';
export type { SessionPlace } from './handover.ts';
export * from './keys.ts';
export type { ClusterStatus } from './lease.ts';
export type { RunningCluster } from './running.ts';
export type { ClusterStats } from './stats.ts';
