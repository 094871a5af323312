// What other rooms and the adapters import from runtime/server/ (docs/runtime-api.md).
export * from './cli.ts';
export * from './server.ts';
export * from './program.ts';
