/**
 * `host.watch`: while a watcher (the inspector page) is attached, every frame is stepped
 * and every step is reported; detached, the host is back on its fast path. Attaching and
 * detaching at any moment must change nothing a peer can see.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { endText } from '../../runtime/protocol/end-cause.ts';
import { Host, type HostEvent } from '../../runtime/host/host.ts';
import { TEXT_FRAMES } from '../../runtime/codec/index.ts';

function fakeHost(eager = false) {
  let now = 0;
  const out: string[] = [];
  const host = new Host({
    eager,
    now: () => now,
    maxPingsPerInterval: 0,
    transport: { send: (_, frame) => out.push(`${now} ${String(frame)}`), close: (_, cause) => out.push(`${now} close ${endText(cause)}`) },
  });
  const until = (t: number) => {
    for (let wake = host.nextWake(); wake !== null && wake <= t; wake = host.nextWake()) host.tick((now = wake));
    now = t;
  };
  return { host, out, until, set: (t: number) => (now = t) };
}

describe('host.watch', () => {
  it('reports every step with the state before and after, in the order things happen', () => {
    const { host, until } = fakeHost();
    const events: HostEvent[] = [];
    const stop = host.watch((e) => events.push(e));
    host.open({ id: 'a', role: 'server', interval: 100, count: 1 });
    host.receive('a', TEXT_FRAMES.ADVERTISE);
    host.receive('a', TEXT_FRAMES.PING);
    until(1000);
    stop();
    const line = (e: HostEvent) =>
      e.type === 'stepped' ? `stepped ${e.event} ${e.from ?? '-'} > ${e.state}` : e.type === 'received' || e.type === 'sent' ? `${e.type} ${e.message}` : e.type;
    expect(events.map(line)).toEqual([
      'opened',
      'stepped start - > awaitingAdvertise',
      'received ADVERTISE',
      'stepped peer.advertise awaitingAdvertise > alive.watching',
      'received PING',
      'stepped peer.ping alive.watching > alive.watching',
      'sent PONG',
      'stepped tick alive.watching > alive.probing',
      'sent PING',
      'stepped tick alive.probing > dead',
      'dead',
    ]);
    const last = events.findLast((e) => e.type === 'stepped');
    expect(last).toMatchObject({ at: 200, connection: { id: 'a', state: 'dead', pingsSent: 1, pongsSent: 1, unanswered: 1 } });
    expect(host.stats.foldedFrames).toBe(0);
  });

  it('steps every frame only while watched, and reports nothing to plain listeners otherwise', () => {
    const { host } = fakeHost();
    const plain: HostEvent[] = [];
    host.subscribe((e) => plain.push(e));
    host.open({ id: 'a', role: 'server', interval: 1000 });
    host.receive('a', TEXT_FRAMES.ADVERTISE);
    host.receive('a', TEXT_FRAMES.PING);
    host.receive('a', TEXT_FRAMES.PONG);
    expect(plain.some((e) => e.type === 'stepped')).toBe(false);
    const before = host.stats.steps;

    const stop = host.watch(() => {});
    host.receive('a', TEXT_FRAMES.PING); // folds the two pending frames, then steps this one
    host.receive('a', TEXT_FRAMES.PONG);
    expect(host.stats.steps - before).toBe(3);
    expect(plain.filter((e) => e.type === 'stepped')).toHaveLength(3);
    stop();
    stop(); // twice is harmless: the count of watchers must not go below zero

    const after = host.stats.steps;
    host.receive('a', TEXT_FRAMES.PING);
    host.receive('a', TEXT_FRAMES.PONG);
    expect(host.stats.steps).toBe(after);
    expect(host.view('a')).toMatchObject({ pingsReceived: 3, pongsReceived: 3, pongsSent: 3 });
  });

  it('attaching and detaching a watcher at any moment sends the same frames at the same times as an eager host', () => {
    type Op = { gap: number; kind: 'PING' | 'PONG' | 'ADVERTISE' | 'MESSAGE' | 'WATCH' | 'UNWATCH' };
    const op = fc.record({
      gap: fc.integer({ min: 0, max: 300 }),
      kind: fc.constantFrom<Op['kind']>('PING', 'PONG', 'ADVERTISE', 'MESSAGE', 'WATCH', 'UNWATCH'),
    });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 3 }), fc.array(op, { maxLength: 60 }), (interval, count, ops) => {
        const run = (eager: boolean) => {
          const world = fakeHost(eager);
          world.host.open({ id: 'x', role: 'server', interval, count });
          const stops: (() => void)[] = [];
          let t = 0;
          for (const { gap, kind } of ops) {
            world.until((t += gap));
            if (kind === 'WATCH') stops.push(world.host.watch(() => {}));
            else if (kind === 'UNWATCH') stops.pop()?.();
            else world.host.receive('x', kind === 'MESSAGE' ? 'hello' : TEXT_FRAMES[kind]);
          }
          const final = world.host.snapshot('x');
          world.until(t + interval * (count + 2));
          return { out: world.out, final };
        };
        const eager = run(true);
        const watched = run(false);
        expect(watched.out).toEqual(eager.out);
        expect(watched.final).toEqual(eager.final);
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});
