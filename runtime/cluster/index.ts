// What other rooms and the adapters import from runtime/cluster/ (docs/runtime-api.md).
export * from './cluster.ts';
export * from './keys.ts';
