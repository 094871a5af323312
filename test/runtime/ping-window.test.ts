/**
 * `pingWindow`: a PING may leave up to the window before or after its due time, stamped
 * at its due time. Peers answering our PINGs get them in batches, peers that PING us need
 * no wake of ours before their next PING could have come, and silent peers die exactly
 * interval*(count+1) after their last sign of life, as without a window.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TEXT_FRAMES } from '../../runtime/codec/index.ts';
import { Host, type HostEvent, type PingWindow } from '../../runtime/host/host.ts';

const INTERVAL = 1000;
const COUNT = 3;

interface Peer {
  id: string;
  openAt: number;
  /** Answers every PING after `rtt` ms until `silentFrom`, then says nothing. */
  rtt: number;
  silentFrom: number;
  /** Also PINGs us every this many ms (until `silentFrom`). */
  pingEvery?: number;
}

/** One server host on a fake clock driven at its own `nextWake()`; peers answer PINGs after their rtt. */
function run(peers: Peer[], pingWindow: number | PingWindow, until: number, options: { autoAnswered?: boolean } = {}) {
  /** Cloudflare's auto-response: the peer's PINGs are answered without us and seen only at our next wake. */
  const answered = new Map<string, number>();
  let now = 0;
  const frames: { at: number; id: string; frame: string }[] = [];
  const events: HostEvent[] = [];
  /** When each peer was sent each of our PINGs. */
  const pingedAt = new Map<string, number[]>();
  let wakes = 0;
  const host = new Host({
    now: () => now,
    pingWindow,
    defaults: { interval: INTERVAL, count: COUNT },
    onEvent: (e) => events.push(e),
    transport: {
      send(id, frame) {
        const peer = peers.find((p) => p.id === id)!;
        if (frame === TEXT_FRAMES.PING) pingedAt.set(id, [...(pingedAt.get(id) ?? []), now]);
        if (frame === TEXT_FRAMES.PING && now + peer.rtt < peer.silentFrom) frames.push({ at: now + peer.rtt, id, frame: TEXT_FRAMES.PONG });
      },
      close() {},
    },
  });
  for (const peer of peers) {
    frames.push({ at: peer.openAt, id: peer.id, frame: TEXT_FRAMES.ADVERTISE });
    if (peer.pingEvery) for (let at = peer.openAt + peer.pingEvery; at < Math.min(until, peer.silentFrom); at += peer.pingEvery) frames.push({ at, id: peer.id, frame: TEXT_FRAMES.PING });
  }
  const opened = new Set<string>();
  for (;;) {
    let first = -1;
    for (let i = 0; i < frames.length; i++) if (first < 0 || frames[i]!.at < frames[first]!.at) first = i;
    const frameAt = first < 0 ? Infinity : frames[first]!.at;
    const wake = host.nextWake() ?? Infinity;
    const next = Math.min(frameAt, wake);
    if (next > until) break;
    now = Math.max(now, next);
    if (frameAt === next) {
      const [{ id, frame }] = frames.splice(first, 1) as [{ at: number; id: string; frame: string }];
      if (!opened.has(id)) {
        opened.add(id);
        host.open({ id, role: 'server', at: now });
      }
      if (options.autoAnswered && frame === TEXT_FRAMES.PING && host.view(id)?.advertised) answered.set(id, now);
      else if (host.has(id)) host.receive(id, frame, now);
    } else {
      wakes++;
      for (const [id, at] of answered) host.noteAnsweredPing(id, at);
      host.tick(now);
    }
  }
  return { host, events, wakes, pingedAt };
}

const deaths = (events: HostEvent[]) =>
  events.filter((e): e is Extract<HostEvent, { type: 'dead' }> => e.type === 'dead').map((e) => ({ id: e.id, at: e.at, silentFor: e.silentFor }));

describe('pingWindow', () => {
  it('PINGs the connections due within the window in one wake, and they stay batched', () => {
    const peers = Array.from({ length: 10 }, (_, i) => ({ id: `p${i}`, openAt: i * 7, rtt: 2, silentFrom: Infinity }));
    const plain = run(peers, 0, 60_000);
    const windowed = run(peers, 100, 60_000);
    expect(deaths(plain.events)).toEqual([]);
    expect(deaths(windowed.events)).toEqual([]);
    // Ten deadlines 7 ms apart: about one wake per interval instead of one per deadline.
    expect(windowed.wakes).toBeLessThan(plain.wakes / 5);
    expect(windowed.wakes).toBeLessThanOrEqual(62);
    for (const peer of peers) expect(windowed.host.view(peer.id)!.pingsSent).toBeGreaterThan(50);
  });

  it('early only ({ early, late: 0 }): PINGs batched as well, and never later than without a window', () => {
    const peers = Array.from({ length: 10 }, (_, i) => ({ id: `p${i}`, openAt: i * 7, rtt: 2, silentFrom: Infinity }));
    const plain = run(peers, 0, 60_000);
    const early = run(peers, { early: INTERVAL / 4, late: 0 }, 60_000);
    expect(deaths(early.events)).toEqual([]);
    expect(early.wakes).toBeLessThan(plain.wakes / 5);
    for (const peer of peers) {
      const times = early.pingedAt.get(peer.id)!;
      expect(times.length).toBeGreaterThanOrEqual(59);
      // Each PING at most an interval after the answer to the one before (sent rtt after it).
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeLessThanOrEqual(INTERVAL + peer.rtt);
    }
    // Both ways (the default window), PINGs may also leave late: up to the window after.
    const both = run(peers, INTERVAL / 4, 60_000);
    const gaps = peers.flatMap((p) => both.pingedAt.get(p.id)!.map((t, i, all) => (i > 0 ? t - all[i - 1]! : 0)));
    expect(Math.max(...gaps)).toBeGreaterThan(INTERVAL + 2);
  });

  it('peers that PING us every quarter interval cost one wake per interval with a window of a quarter interval', () => {
    const peers = Array.from({ length: 20 }, (_, i) => ({ id: `p${i}`, openAt: i * 13, rtt: 5, silentFrom: Infinity, pingEvery: INTERVAL / 4 }));
    // The host only hears of them at its own wakes here if their PINGs were answered elsewhere;
    // here it hears every PING, so it never needs to PING anyone and never wakes after ADVERTISE.
    const { events, host } = run(peers, INTERVAL / 4, 30_000);
    expect(deaths(events)).toEqual([]);
    for (const peer of peers) expect(host.view(peer.id)!.pingsSent).toBe(0);
  });

  it('peers whose PINGs are answered without us (Cloudflare) cost one wake per interval with a window as long as their period', () => {
    const period = INTERVAL / 4;
    const peers = Array.from({ length: 50 }, (_, i) => ({ id: `p${i}`, openAt: (i * 37) % 1000, rtt: 5, silentFrom: Infinity, pingEvery: period }));
    const seconds = 60;
    const plain = run(peers, 0, seconds * INTERVAL, { autoAnswered: true });
    const windowed = run(peers, period, seconds * INTERVAL, { autoAnswered: true });
    for (const r of [plain, windowed]) expect(deaths(r.events)).toEqual([]);
    // Without the window: a wake every interval minus period (the oldest latest PING plus
    // the interval), 4/3 per interval; with it, at most one per interval.
    expect(plain.wakes / seconds).toBeGreaterThan(1.25);
    expect(windowed.wakes / seconds).toBeLessThanOrEqual(1.05);
    for (const peer of peers) expect(windowed.host.view(peer.id)!.pingsSent).toBe(0);
  });

  it('never moves the host clock ahead: no tick afterwards is taken for a backward clock step', () => {
    const peers = Array.from({ length: 5 }, (_, i) => ({ id: `p${i}`, openAt: i * 30, rtt: 50, silentFrom: Infinity }));
    const { host } = run(peers, 200, 20_000);
    // A clock step back re-anchors every connection (a step each); here it stays about 2 steps per connection per interval.
    expect(host.stats.steps).toBeLessThan(5 * 2 * 21 + 20);
  });

  it('a peer that falls silent dies exactly interval*(count+1) after its last sign of life, window or not', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            openAt: fc.integer({ min: 0, max: 3000 }),
            rtt: fc.integer({ min: 0, max: 300 }),
            silentFrom: fc.integer({ min: 0, max: 20_000 }),
            pingEvery: fc.option(fc.integer({ min: 50, max: 2000 }), { nil: undefined }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        fc.integer({ min: 1, max: 900 }),
        fc.boolean(),
        (specs, ms, earlyOnly) => {
          const peers = specs.map((s, i) => ({ id: `p${i}`, ...s }));
          const plain = deaths(run(peers, 0, 40_000).events);
          const windowed = deaths(run(peers, earlyOnly ? { early: ms, late: 0 } : ms, 40_000).events);
          // An early PING may reach a peer just before it falls silent and be answered, so
          // its last sign of life (and death) can be later in absolute time than without
          // the window; measured from that last sign of life the death is never early or late.
          for (const dead of [...plain, ...windowed]) expect(dead.silentFor).toBe(INTERVAL * (COUNT + 1));
          expect(windowed.map((d) => d.id).sort()).toEqual(peers.map((p) => p.id).sort());
          expect(plain.map((d) => d.id).sort()).toEqual(peers.map((p) => p.id).sort());
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rejects a negative or non-finite window', () => {
    const transport = { send() {}, close() {} };
    expect(() => new Host({ transport, pingWindow: -1 })).toThrow(RangeError);
    expect(() => new Host({ transport, pingWindow: Infinity })).toThrow(RangeError);
    expect(() => new Host({ transport, pingWindow: { early: -1, late: 0 } })).toThrow(RangeError);
    expect(() => new Host({ transport, pingWindow: { early: 10, late: NaN } })).toThrow(RangeError);
  });
});
