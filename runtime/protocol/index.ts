// What other rooms and the adapters import from runtime/protocol/ (docs/runtime-api.md).
export * from './sessions.ts';
export * from './connection-id.ts';
export * from './defaults.ts';
export * from './libvirt-negotiation.ts';
export * from './end-cause.ts';
export * from './presence.ts';
