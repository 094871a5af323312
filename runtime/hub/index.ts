// What other rooms and the adapters import from runtime/hub/ (docs/runtime-api.md).
export * from './assemble.ts';
export * from './connect.ts';
export * from './mail.ts';
export * from './routes.ts';
export * from './websocket-peer.ts';
export * from './delivery.ts';
