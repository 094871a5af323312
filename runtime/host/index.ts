// What other rooms and the adapters import from runtime/host/ (docs/runtime-api.md).
export * from './host.ts';
export * from './sockets.ts';
export * from './store.ts';
export * from './wake-timer.ts';
export * from './stepper.ts';
export { textCodecOnly, type CodecFactory } from './codecs.ts';
