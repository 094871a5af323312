/**
 * Peers for the workerd tests: real WebSockets opened through the Worker's own routes
 * to the real Durable Object, in the same workerd isolate as the test.
 *
 * Time: tests that drive alarms fake `Date` only (`vi.useFakeTimers({ toFake: ['Date'] })`),
 * which the object sees too (same isolate). The fake clock starts a year ahead, so an
 * armed alarm never fires by itself: only `runDurableObjectAlarm` runs it, at a time the
 * test chose. Frames still travel for real; the test waits for them, never sleeps.
 */
import { createExecutionContext, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { expect, vi } from 'vitest';
import { hubInternals } from '../../../adapters/cloudflare/test-access.ts';
import type { Env } from '../../../adapters/cloudflare/config.ts';
import { CONNECTION_HEADER, type KeepaliveHub } from '../../../adapters/cloudflare/hub.ts';
import worker from '../../../adapters/cloudflare/worker.ts';
import type { ConnectionView, HostEvent } from '../../../runtime/host/types.ts';
import { until } from '../../support/wait.ts';

export const INTERVAL = Number(env.KEEPALIVE_INTERVAL);
export const COUNT = Number(env.KEEPALIVE_COUNT);
export const TOKEN = env.KEEPALIVE_TOKEN!;

export type Stub = DurableObjectStub<KeepaliveHub>;

/** A request to the Worker, as from outside. */
export const get = (path: string, init?: RequestInit) => exports.default.fetch(`http://hub.test${path}`, init);

/** The Worker with other vars than the test's wrangler.toml + bindings (the object's own env is fixed). */
export async function withEnv(overrides: Partial<Env>, path: string, init?: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`http://hub.test${path}`, init), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

export function hubStub(name: string): Stub {
  return env.KEEPALIVE_HUB.get(env.KEEPALIVE_HUB.idFromName(name));
}

/** A fake `Date` a year ahead of the real one, whole seconds, moved only by `at`. */
export function fakeClock(): { t0: number; at(ms: number): number } {
  vi.useFakeTimers({ toFake: ['Date'] });
  const t0 = Math.ceil((Date.now() + 365 * 86_400_000) / 1000) * 1000;
  vi.setSystemTime(t0);
  return {
    t0,
    at(ms) {
      vi.setSystemTime(t0 + ms);
      return t0 + ms;
    },
  };
}

export interface Peer {
  readonly ws: WebSocket;
  /** Every frame received, text as is, binary as bytes. */
  readonly frames: (string | Uint8Array)[];
  readonly closed: Promise<CloseEvent>;
  readonly isClosed: boolean;
  /** Resolves once `count` frames have arrived in total. */
  frameCount(count: number, timeout?: number): Promise<(string | Uint8Array)[]>;
  /** The connection id the object gave this socket. */
  readonly id: string;
}

/** Opens a WebSocket through the Worker (`/connect/<hub>`), as a client would; `ids` is what its connection id must look like. */
export async function connect(hub: string, query = '', ids = /^[\w-]{21}$/): Promise<Peer> {
  const response = await exports.default.fetch(`http://hub.test/connect/${hub}${query}`, { headers: { Upgrade: 'websocket' } });
  expect(response.status).toBe(101);
  const ws = response.webSocket!;
  ws.accept();
  // Since compatibility date 2026-03-17 binary messages arrive as Blob unless asked otherwise.
  ws.binaryType = 'arraybuffer';
  const frames: (string | Uint8Array)[] = [];
  const waiters = new Set<() => void>();
  let isClosed = false;
  ws.addEventListener('message', (event) => {
    frames.push(typeof event.data === 'string' ? event.data : new Uint8Array(event.data as ArrayBuffer));
    for (const wake of waiters) wake();
  });
  const closed = new Promise<CloseEvent>((resolve) =>
    ws.addEventListener('close', (event) => {
      isClosed = true;
      for (const wake of waiters) wake();
      resolve(event);
    }),
  );
  const id = response.headers.get(CONNECTION_HEADER);
  expect(id).toMatch(ids);
  return {
    ws,
    frames,
    closed,
    get isClosed() {
      return isClosed;
    },
    id: id!,
    frameCount(count, timeout = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (frames.length >= count) return done(() => resolve(frames));
          if (isClosed) return done(() => reject(new Error(`closed with ${frames.length} of ${count} frames`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`${frames.length} of ${count} frames within ${timeout} ms`))), timeout);
        const done = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
  };
}

export function view(stub: Stub, id: string): Promise<ConnectionView | undefined> {
  return runInDurableObject(stub, (o: KeepaliveHub) => hubInternals(o).host.view(id));
}

export function stats(stub: Stub) {
  return runInDurableObject(stub, (o: KeepaliveHub) => o.stats());
}

/** What storage holds, read inside the object: the snapshot records and the armed alarm. */
export function stored(stub: Stub) {
  return runInDurableObject(stub, async (_o: KeepaliveHub, state) => ({
    ids: [...state.storage.kv.list({ prefix: 'conn:' })].map(([key]) => key.slice('conn:'.length)),
    alarm: await state.storage.getAlarm(),
  }));
}

/** Runs the armed alarm now (at the fake time) and says whether one was armed. */
export function runAlarm(stub: Stub): Promise<boolean> {
  return runDurableObjectAlarm(stub);
}

/**
 * Polls until `check` stops throwing: for effects that cross the socket (a frame the
 * object received). Tolerance: `timeout` ms, far beyond the few ms a delivery takes.
 * test/support/wait.ts's `until`, the one waiting helper.
 */
export async function eventually<T>(check: () => Promise<T>, timeout = 10_000): Promise<T> {
  const passed = await until(async () => ({ value: await check() }), 'check passing', timeout, 10);
  return passed.value;
}

export interface StreamMessage {
  event: string;
  data: { now: number; connections?: ConnectionView[]; events?: HostEvent[] };
}

/** An inspector page's Server-Sent Events, read as its EventSource would, with every host event kept in order. */
export function eventStream(body: ReadableStream<Uint8Array>) {
  const bytes = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const events: HostEvent[] = [];
  const next = async (): Promise<StreamMessage | null> => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
        const message = { event, data: JSON.parse(data) as StreamMessage['data'] };
        events.push(...(message.data.events ?? []));
        return message;
      }
      const { value, done } = await bytes.read();
      if (done) return null;
      buffer += decoder.decode(value, { stream: true });
    }
  };
  return {
    next,
    /** Every host event received so far. */
    events,
    /**
     * Reads until `occurrence` events match (the stream batches whatever queued meanwhile)
     * and returns the last of them; fails if the stream ends first.
     */
    async until(match: (event: HostEvent) => boolean, what: string, occurrence = 1): Promise<HostEvent> {
      for (;;) {
        const found = events.filter(match);
        if (found.length >= occurrence) return found[occurrence - 1]!;
        if ((await next()) === null) throw new Error(`the stream ended before ${what} (${found.length} of ${occurrence})`);
      }
    },
    cancel: () => bytes.cancel(),
  };
}
