export * from '../actors/keepalive.ts';
export * from './codec/index.ts';
export * from './host.ts';
export * from './store.ts';
export { TimerQueue } from './timer-queue.ts';
export { WakeTimer, type TimerApi, type WakeTimerOptions } from './wake-timer.ts';
export * from './app.ts';
export * from './sockets.ts';
export * from './client.ts';
