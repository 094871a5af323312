/**
 * The host's fast path (signs of life recorded without a step, PINGs answered by state
 * tag) must be invisible: the same frames at the same times, the same death, the same
 * snapshot as a host that steps the statechart for every frame.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { endText } from '../../runtime/protocol/end-cause.ts';
import { Host } from '../../runtime/host/host.ts';
import { MemorySnapshotStore } from '../../runtime/host/store.ts';
import { TEXT_FRAMES } from '../../runtime/codec/index.ts';
import type { Role } from '../../actors/keepalive.ts';

type Kind = keyof typeof TEXT_FRAMES | 'MESSAGE' | 'READ';
interface Step {
  gap: number;
  kind: Kind;
}

/** `watched`: an inspector is attached, so the host runs live actors instead of snapshots. */
function drive(eager: boolean, role: Role, options: { interval: number; count: number; sendPings: boolean }, trace: Step[], watched = false) {
  let now = 0;
  const out: string[] = [];
  const host = new Host({
    eager,
    now: () => now,
    maxPingsPerInterval: 0, // 1 kHz PINGs below are load, not abuse
    ...(watched ? { inspect: () => {} } : {}),
    transport: { send: (_, frame) => out.push(`${now} ${String(frame)}`), close: (_, cause) => out.push(`${now} close ${endText(cause)}`) },
  });
  host.open({ id: 'x', role, ...options });
  const until = (t: number) => {
    for (let wake = host.nextWake(); wake !== null && wake <= t; wake = host.nextWake()) host.tick((now = wake));
    now = t;
  };
  let t = 0;
  for (const step of trace) {
    until((t += step.gap));
    if (step.kind === 'READ') host.list(); // a reader folds pending frames; that must change nothing
    else host.receive('x', step.kind === 'MESSAGE' ? 'hello' : TEXT_FRAMES[step.kind]);
  }
  const final = host.snapshot('x');
  until(t + options.interval * (options.count + 2));
  return { out, final, steps: host.stats.steps };
}

const stepArb = fc.record({
  gap: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 400 })),
  kind: fc.constantFrom<Kind>('PING', 'PING', 'PONG', 'PONG', 'MESSAGE', 'ADVERTISE', 'READ'),
});

describe('fast path vs eager host', () => {
  it('sends the same frames at the same times, dies at the same time and ends with the same snapshot, stepped by snapshot or by live actor', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Role>('client', 'server'),
        fc.record({ interval: fc.integer({ min: 1, max: 300 }), count: fc.integer({ min: 0, max: 4 }), sendPings: fc.boolean() }),
        fc.array(stepArb, { maxLength: 80 }),
        (role, options, trace) => {
          const eager = drive(true, role, options, trace);
          const fast = drive(false, role, options, trace);
          const watched = drive(true, role, options, trace, true);
          expect(fast.out).toEqual(eager.out);
          expect(fast.final).toEqual(eager.final);
          // Live actors (inspected hosts) and bare snapshots step the same machine identically.
          expect(watched.out).toEqual(eager.out);
          expect(watched.final).toEqual(eager.final);
        },
      ),
      { numRuns: 1000, seed: 42 },
    );
  });

  it('steps at most twice per interval in steady state, however fast frames arrive', () => {
    const interval = 1000;
    const trace: Step[] = [{ gap: 0, kind: 'ADVERTISE' }];
    for (let i = 0; i < 100_000; i++) trace.push({ gap: 1, kind: i % 2 ? 'PING' : 'PONG' }); // 100 s of 1 kHz traffic
    const fast = drive(false, 'server', { interval, count: 5, sendPings: true }, trace);
    const eager = drive(true, 'server', { interval, count: 5, sendPings: true }, trace);
    expect(fast.out).toEqual(eager.out);
    expect(eager.steps).toBeGreaterThan(100_000);
    expect(fast.steps).toBeLessThanOrEqual(2 * (100 + 8) + 2);
  });

  it('a peer that answers every PING costs one step per interval: its PONG is folded into the step that sends the next PING', () => {
    const interval = 1000;
    const answering = (eager: boolean, pingWindow: number) => {
      let now = 0;
      const pongs: number[] = [];
      const out: string[] = [];
      const host = new Host({
        eager,
        now: () => now,
        pingWindow,
        transport: {
          send: (_, frame) => {
            out.push(`${now} ${String(frame)}`);
            if (frame === TEXT_FRAMES.PING) pongs.push(now + 7);
          },
          close: () => {},
        },
      });
      host.open({ id: 'x', role: 'server', interval, count: 3, sendPings: true, at: 0 });
      host.receive('x', TEXT_FRAMES.ADVERTISE, 0);
      const steps0 = host.stats.steps;
      for (;;) {
        const wake = host.nextWake() ?? Infinity;
        const pong = pongs[0] ?? Infinity;
        if (Math.min(wake, pong) > 100 * interval) break;
        now = Math.min(wake, pong);
        if (pong <= wake) host.receive('x', TEXT_FRAMES.PONG, pongs.shift()!);
        else host.tick(now);
      }
      return { out, steps: host.stats.steps - steps0, view: host.view('x')! };
    };
    const eager = answering(true, 0);
    const fast = answering(false, 0);
    expect(fast.out).toEqual(eager.out);
    expect(fast.view).toEqual(eager.view);
    const pings = fast.out.filter((line) => line.endsWith(TEXT_FRAMES.PING)).length;
    expect(pings).toBeGreaterThan(95);
    expect(fast.steps).toBeLessThanOrEqual(pings + 1);
    // Eager: a step per PONG and one per PING.
    expect(eager.steps).toBeGreaterThanOrEqual(2 * pings);
    // With a window (PINGs may leave early), still one step per PING once the answers come after their stamps.
    const windowed = answering(false, interval / 4);
    expect(windowed.steps).toBeLessThanOrEqual(windowed.out.filter((line) => line.endsWith(TEXT_FRAMES.PING)).length + 1);
  });

  it('a chatty peer is never stepped, unless snapshots are written per step: then a stored one is never more than an interval behind', () => {
    const interval = 1000;
    for (const stored of [false, true]) {
      let now = 0;
      const store = new MemorySnapshotStore();
      const host = new Host({ now: () => now, transport: { send() {}, close() {} }, ...(stored ? { store } : {}) });
      host.open({ id: 'x', role: 'server', interval, count: 3, sendPings: true, at: 0 });
      host.receive('x', TEXT_FRAMES.ADVERTISE, 0);
      const steps0 = host.stats.steps;
      let worstLag = 0;
      for (let t = 10; t <= 30 * interval; t += 10) {
        for (let wake = host.nextWake(); wake !== null && wake <= t; wake = host.nextWake()) host.tick((now = wake));
        now = t;
        if (stored) {
          const saved = store.records.get('x')!.snapshot as unknown as { context: { lastSignOfLife: number } };
          worstLag = Math.max(worstLag, t - saved.context.lastSignOfLife);
        }
        host.receive('x', 'hello', t);
      }
      const steps = host.stats.steps - steps0;
      expect(host.view('x')!.messagesReceived).toBe(3000);
      if (stored) {
        expect(steps).toBeGreaterThanOrEqual(29);
        expect(worstLag).toBeLessThanOrEqual(interval + 10);
      } else expect(steps).toBe(0);
    }
  });
});
