// What other rooms and the adapters import from runtime/client/ (docs/runtime-api.md).
export * from './keepalive-client.ts';
export * from './options.ts';
export * from './web-socket-line.ts';
export * from './send-buffer.ts';
export * from './events.ts';
export * from './session.ts';
export * from './presence.ts';
