/**
 * The inspector's event stream, read as a browser's EventSource would: a snapshot first,
 * then host events in order; the host steps every frame while the stream is open and
 * goes back to its fast path when it closes; a reader that falls behind is cut off
 * (bounded memory) instead of slowing the host.
 */
import { describe, expect, it, vi } from 'vitest';
import { Host, type HostEvent } from '../../../runtime/host/host.ts';
import { TEXT_FRAMES } from '../../../runtime/codec/index.ts';
import { inspectorRoutes } from '../../../runtime/inspector/routes.ts';
import type { EventStreamOptions } from '../../../runtime/inspector/events.ts';
import { createCodec } from '../../../runtime/codec/index.ts';

interface Message {
  event: string;
  data: { now: number; connections?: { id: string; state: string }[]; events?: HostEvent[] };
}

/** Server-Sent Events parsed from a response body. */
function reader(body: ReadableStream<Uint8Array>) {
  const bytes = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    async next(): Promise<Message | null> {
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
          return { event, data: JSON.parse(data) as Message['data'] };
        }
        const { value, done } = await bytes.read();
        if (done) return null;
        buffer += decoder.decode(value, { stream: true });
      }
    },
    cancel: () => bytes.cancel(),
  };
}

function world(options: EventStreamOptions = {}) {
  let now = 1_000;
  const sent: string[] = [];
  const host = new Host({ codecs: createCodec, now: () => now, transport: { send: (id, frame) => sent.push(`${id} ${String(frame)}`), close() {} } });
  const app = inspectorRoutes({ host, now: () => now, ...options });
  return { host, sent, open: async () => reader((await app.request('/inspect/events')).body!), advance: (ms: number) => (now += ms) };
}

describe('GET /inspect/events', () => {
  it('starts with a snapshot, then streams what happens; while open the host steps every frame', async () => {
    const { host, open } = world();
    host.open({ id: 'a', role: 'server', interval: 1000, count: 2 });
    host.receive('a', TEXT_FRAMES.ADVERTISE);
    const stream = await open();

    const snapshot = await stream.next();
    expect(snapshot).toMatchObject({ event: 'snapshot', data: { now: 1000, connections: [{ id: 'a', state: 'alive.watching' }] } });

    const before = host.stats.steps;
    host.receive('a', TEXT_FRAMES.PING);
    const batch = await stream.next();
    expect(batch?.event).toBe('events');
    expect(batch!.data.events!.map((e) => e.type)).toEqual(['received', 'stepped', 'sent']);
    expect(batch!.data.events![1]).toMatchObject({ type: 'stepped', event: 'peer.ping', from: 'alive.watching', state: 'alive.watching', connection: { pingsReceived: 1, pongsSent: 1 } });
    expect(host.stats.steps - before).toBe(1);
    expect(host.stats.foldedFrames).toBe(0);

    await stream.cancel();
    // Closed: back on the fast path, frames recorded without a step.
    await vi.waitFor(() => {
      const steps = host.stats.steps;
      host.receive('a', TEXT_FRAMES.PONG);
      expect(host.stats.steps).toBe(steps);
    });
  });

  it('sends a burst as one message, in order', async () => {
    const { host, open } = world();
    const stream = await open();
    await stream.next(); // snapshot
    const expected: HostEvent[] = [];
    host.subscribe((e) => expected.push(e));
    host.open({ id: 'a', role: 'server' });
    for (let i = 0; i < 20; i++) host.open({ id: `b${i}`, role: 'client' }); // each sends its ADVERTISE
    const seen: HostEvent[] = [];
    let messages = 0;
    while (seen.length < expected.length) {
      const message = await stream.next();
      messages++;
      seen.push(...(message?.data.events ?? []));
    }
    expect(expected.length).toBe(2 + 20 * 3);
    expect(seen).toEqual(JSON.parse(JSON.stringify(expected)));
    // The host emits synchronously; the stream catches up once, with all of it.
    expect(messages).toBeLessThanOrEqual(2);
    await stream.cancel();
  });

  it('cuts off a reader that falls behind instead of buffering without bound, and stops watching', async () => {
    const { host, open } = world({ maxQueue: 5 });
    const stream = await open();
    await stream.next(); // snapshot
    for (let i = 0; i < 50; i++) host.open({ id: `c${i}`, role: 'client' }); // nobody reading meanwhile
    // Off the fast path no longer than the queue allows, even before the reader catches up.
    const steps = host.stats.steps;
    host.receive('c0', TEXT_FRAMES.PING);
    expect(host.stats.steps).toBe(steps);
    const events: string[] = [];
    for (let m = await stream.next(); m; m = await stream.next()) events.push(m.event);
    expect(events.at(-1)).toBe('overflow');
    const plain: HostEvent[] = [];
    host.subscribe((e) => plain.push(e));
    host.receive('c0', TEXT_FRAMES.PING);
    expect(plain.some((e) => e.type === 'stepped')).toBe(false);
  });

  it('watches through the adapter\'s `watch` when given, and stops it when the reader goes away', async () => {
    const calls: string[] = [];
    const { host, open } = world({
      watch: (listener) => {
        calls.push('watch');
        const stop = host.watch(listener);
        return () => {
          calls.push('stop');
          stop();
        };
      },
    });
    const stream = await open();
    await stream.next(); // snapshot
    expect(calls).toEqual(['watch']);
    host.open({ id: 'a', role: 'client' });
    expect((await stream.next())?.event).toBe('events');
    await stream.cancel();
    await vi.waitFor(() => expect(calls).toEqual(['watch', 'stop']));
  });

  it('sends the host clock while quiet, so the page can tell how long ago things were', async () => {
    const { open, advance } = world({ heartbeatMs: 5 });
    const stream = await open();
    await stream.next();
    advance(250);
    const clock = await stream.next();
    expect(clock).toMatchObject({ event: 'clock', data: { now: 1250 } });
    await stream.cancel();
  });
});
