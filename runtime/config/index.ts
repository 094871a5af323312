// What other rooms and the adapters import from runtime/config/ (docs/runtime-api.md).
export * from './settings.ts';
export * from './log.ts';
export * from './redis-url.ts';
