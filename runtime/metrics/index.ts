// What other rooms and the adapters import from runtime/metrics/ (docs/runtime-api.md).
export * from './hub-metrics.ts';
export * from './exposition.ts';
