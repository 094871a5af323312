// What other rooms and the adapters import from runtime/delivery/ (docs/runtime-api.md).
export * from './link.ts';
export * from './window.ts';
export * from './wire.ts';
export * from './store.ts';
