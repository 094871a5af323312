/**
 * The inspector's live stream: Server-Sent Events from `host.watch`, on every runtime
 * (Hono's `streamSSE` is web-standard streams only).
 *
 * - `snapshot` first: every live connection as `/actors` shows it, and the server's clock.
 * - `events`: host events in order, batched: whatever queued while the last write was in
 *   flight goes out as one message, so a burst costs one write, not one per frame.
 * - `clock` every `heartbeatMs` of quiet, which also finds a page that went away.
 * - A page that cannot keep up (more than `maxQueue` events waiting) is sent `overflow`
 *   and closed; EventSource reconnects and starts over from a fresh snapshot, so a slow
 *   page costs bounded memory and never slows the host.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Host, HostEvent } from '../host/index.ts';

export interface EventStreamOptions {
  /** The host's clock, so the page can say "2.1 s ago" in the host's time. Default `Date.now`. */
  now?: () => number;
  heartbeatMs?: number;
  maxQueue?: number;
  /**
   * How a stream watches the host; default `host.watch`. An adapter wraps it to act on
   * the first watcher and the last one leaving (the Worker turns auto-response off meanwhile).
   */
  watch?: (listener: (event: HostEvent) => void) => () => void;
}

export const DEFAULT_HEARTBEAT_MS = 15_000;
export const DEFAULT_MAX_QUEUE = 10_000;

export function hostEventStream(c: Context, host: Host, options: EventStreamOptions = {}): Response {
  const now = options.now ?? Date.now;
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;

  return streamSSE(c, async (stream) => {
    let queue: HostEvent[] = [];
    let overflow = false;
    let wake: (() => void) | null = null;
    const signal = () => {
      const resolve = wake;
      wake = null;
      resolve?.();
    };
    // Watching makes the host step every frame, so the page's timeline sees each PING and PONG.
    const stop = (options.watch ?? ((listener) => host.watch(listener)))((event) => {
      if (overflow) return;
      if (queue.length < maxQueue) queue.push(event);
      else {
        // Stop watching at once: a stalled page must not keep the host off its fast path.
        overflow = true;
        stop();
      }
      signal();
    });
    stream.onAbort(() => {
      stop();
      signal();
    });
    try {
      await stream.writeSSE({ event: 'snapshot', data: JSON.stringify({ now: now(), connections: host.list() }), retry: 1000 });
      while (!stream.aborted && !stream.closed) {
        if (overflow) {
          await stream.writeSSE({ event: 'overflow', data: JSON.stringify({ now: now(), dropped: true }) });
          return;
        }
        if (queue.length === 0) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          const quiet = await new Promise<boolean>((resolve) => {
            wake = () => resolve(false);
            timer = setTimeout(() => resolve(true), heartbeatMs);
          });
          if (timer !== undefined) clearTimeout(timer);
          wake = null;
          if (quiet) await stream.writeSSE({ event: 'clock', data: JSON.stringify({ now: now() }) });
          continue;
        }
        const batch = queue;
        queue = [];
        await stream.writeSSE({ event: 'events', data: JSON.stringify({ now: now(), events: batch }) });
      }
    } finally {
      stop();
    }
  });
}
