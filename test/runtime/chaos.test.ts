/**
 * Two hosts over a chaotic link (drop, delay, duplicate, reorder in each direction, all
 * seeded): below the loss a configuration tolerates no live peer is ever declared dead,
 * measured false-death rates match the model in test/support/loss-model.ts, and a cut
 * link is always detected exactly interval*(count+1) after the last frame heard.
 * `npm run test:stress` runs the same properties longer and over more seeds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HostEvent } from '../../runtime/host/host.ts';
import type { KeepaliveOptions } from '../../actors/keepalive.ts';
import { chaosLink, runChaos, seededRandom, type Faults } from '../support/chaos.ts';
import { DAY, HOUR, meanTimeToFalseDeath, toleratedLoss, type ProbeConfig } from '../support/loss-model.ts';
import { Simulation } from '../support/sim.ts';
import { quickOr, STRESS_TIMEOUT } from '../support/stress.ts';

/** The configurations users run: libvirtd's defaults, this project's test pair, shorter fuses. */
const PAIRS: { name: string; server: KeepaliveOptions; client: KeepaliveOptions }[] = [
  { name: 'both at libvirtd defaults', server: { interval: 5000, count: 5, sendPings: true }, client: { interval: 5000, count: 5, sendPings: true } },
  { name: 'server 5 s x 5, client 3 s x 3', server: { interval: 5000, count: 5, sendPings: true }, client: { interval: 3000, count: 3, sendPings: true } },
  { name: 'only the client PINGs, 5 s x 3', server: { interval: 5000, count: 5, sendPings: false }, client: { interval: 5000, count: 3, sendPings: true } },
  { name: 'only the server PINGs, 2 s x 3', server: { interval: 2000, count: 3, sendPings: true }, client: { interval: 5000, count: 5, sendPings: false } },
];

/**
 * The loss at which the model expects at most `expected` false deaths over `exposure` ms
 * of connection, for the weaker PINGing side (each side's one-sided rate bounds its own,
 * so the budget is split between the sides).
 */
function tolerated(pair: (typeof PAIRS)[number], exposure: number, expected: number): number {
  const sides = [pair.server, pair.client].filter((side) => side.sendPings);
  return Math.min(...sides.map((side) => toleratedLoss(side, (exposure * sides.length) / expected)));
}

const faultsArb = (maxDrop: number, interval: number) =>
  fc.record({
    drop: fc.double({ min: 0, max: maxDrop, noNaN: true }),
    duplicate: fc.double({ min: 0, max: 0.2, noNaN: true }),
    reorder: fc.double({ min: 0, max: 0.3, noNaN: true }),
    latency: fc.integer({ min: 0, max: 50 }),
    jitter: fc.integer({ min: 0, max: 200 }),
    // Held frames stay well inside one interval: the last PONG must land before the verdict.
    holdMax: fc.integer({ min: 0, max: Math.floor(interval / 3) }),
  });

describe('the chaos link', () => {
  it('drops, duplicates and reorders at the rates asked, and replays exactly from its seed', () => {
    const run = (seed: number) =>
      runChaos({
        seed,
        duration: HOUR,
        server: { interval: 1000, count: 5, sendPings: true },
        client: { interval: 700, count: 5, sendPings: true },
        up: { drop: 0.1, duplicate: 0.1, reorder: 0.2, latency: 5, jitter: 50, holdMax: 300 },
        down: { drop: 0.2, duplicate: 0.05, reorder: 0.2, latency: 5, jitter: 50, holdMax: 300 },
      });
    const first = run(1);
    expect(first).toEqual(run(1));
    expect(run(2)).not.toEqual(first);
    expect(first.up.dropped / first.up.sent).toBeCloseTo(0.1, 1);
    expect(first.down.dropped / first.down.sent).toBeCloseTo(0.2, 1);
    expect(first.up.duplicated / (first.up.sent - first.up.dropped)).toBeCloseTo(0.1, 1);
    expect(first.up.reordered).toBeGreaterThan(20);
    expect(first.down.reordered).toBeGreaterThan(20);
    // Every frame is accounted for; a few may still be in flight when the run stops.
    const accounted = first.up.sent - first.up.dropped + first.up.duplicated;
    expect(first.up.delivered).toBeLessThanOrEqual(accounted);
    expect(first.up.delivered).toBeGreaterThan(accounted - 5);
  });

  it('a lost ADVERTISE leaves the server silent for good, so a PINGing client gives up on a live server (why the handshake is exempt by default)', () => {
    const sim = new Simulation();
    const events: (HostEvent & { side: string })[] = [];
    const server = sim.host({ onEvent: (e) => events.push({ ...e, side: 'server' }) });
    const client = sim.host({ onEvent: (e) => events.push({ ...e, side: 'client' }) });
    const link = chaosLink(sim, client, 'c', server, 's', { random: seededRandom(1) });
    server.host.open({ id: 's', role: 'server', interval: 1000, count: 2 });
    link.cut.aToB = true;
    client.host.open({ id: 'c', role: 'client', interval: 1000, count: 2 });
    link.cut.aToB = false;
    sim.runUntil(60_000);
    expect(events.filter((e) => e.side === 'server' && e.type === 'sent')).toEqual([]);
    expect(events.find((e) => e.type === 'dead')).toMatchObject({ side: 'client', at: 3000 });
  });
});

describe('no false death below the loss a configuration tolerates', () => {
  const horizon = quickOr(12 * HOUR, 7 * DAY);
  const runs = quickOr(2, 25);
  it.each(PAIRS)('$name', { timeout: STRESS_TIMEOUT }, (pair) => {
    // Loss up to where the model expects 1/100 of a false death over every run together.
    const maxDrop = tolerated(pair, horizon * runs, 0.01);
    expect(maxDrop).toBeGreaterThan(0.0003);
    const interval = Math.min(pair.server.interval, pair.client.interval);
    fc.assert(
      fc.property(fc.integer(), faultsArb(maxDrop, interval), faultsArb(maxDrop, interval), (seed, up, down) => {
        const result = runChaos({ seed, duration: horizon, server: pair.server, client: pair.client, up, down });
        expect(result.deaths).toEqual([]);
        expect(result.connections).toBe(1);
      }),
      { seed: 20261125, numRuns: runs },
    );
  });
});

describe('measured false-death rates against the model', () => {
  // Cells with enough deaths to measure in a quick run; `npm run chaos-table` has them all.
  const cells: [ProbeConfig, number][] = [
    [{ interval: 5000, count: 5 }, 0.3],
    [{ interval: 5000, count: 3 }, 0.2],
    [{ interval: 2000, count: 2 }, 0.1],
    [{ interval: 1000, count: 1 }, 0.05],
  ];
  it.each(cells)('%o at %f loss, one side PINGing', (config, loss) => {
    const rtt = 2 * (5 + 10);
    const duration = quickOr(300, 3000) * meanTimeToFalseDeath(config, loss, loss, rtt);
    const result = runChaos({
      seed: 7,
      duration,
      server: { ...config, sendPings: false },
      client: { ...config, sendPings: true },
      up: { drop: loss, latency: 5, jitter: 20, duplicate: 0.02, reorder: 0.05, holdMax: config.interval / 10 },
      down: { drop: loss, latency: 5, jitter: 20, duplicate: 0.02, reorder: 0.05, holdMax: config.interval / 10 },
    });
    const expected = result.connectedFor / meanTimeToFalseDeath(config, loss, loss, rtt);
    // Poisson: within 4 standard deviations of the model (seeded, so it cannot flake).
    expect(Math.abs(result.deaths.length - expected)).toBeLessThan(4 * Math.sqrt(expected));
    for (const death of result.deaths) expect(death.silentFor).toBe(config.interval * (config.count + 1));
  });

  it('with both sides PINGing, each side stays under its one-sided model', () => {
    const pair = PAIRS[1]!;
    const loss = 0.3;
    const result = runChaos({
      seed: 11,
      duration: quickOr(20, 200) * HOUR,
      server: pair.server,
      client: pair.client,
      up: { drop: loss, latency: 5, jitter: 20 },
      down: { drop: loss, latency: 5, jitter: 20 },
    });
    for (const side of ['client', 'server'] as const) {
      const model = result.connectedFor / meanTimeToFalseDeath(pair[side], loss);
      expect(result.deaths.filter((d) => d.side === side).length).toBeLessThan(model);
    }
    expect(result.deaths.length).toBeGreaterThan(0);
  });
});

describe('a cut link is detected inside the bound, every time', () => {
  const runs = quickOr(150, 2000);
  it('each side that PINGs and stops hearing declares death exactly interval*(count+1) after the last frame it heard', { timeout: STRESS_TIMEOUT }, () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PAIRS),
        fc.integer(),
        fc.integer({ min: 1, max: 600 }).map((s) => s * 1000),
        fc.constantFrom('both', 'aToB', 'bToA'),
        fc.nat(),
        (pair, seed, cutAt, direction, faultSeed) => {
          const interval = Math.min(pair.server.interval, pair.client.interval);
          // Loss the model says costs 1/100 of a false death before the cut, over all runs.
          const maxDrop = tolerated(pair, cutAt * runs, 0.01);
          const [up, down] = fc.sample(faultsArb(maxDrop, interval), { seed: faultSeed, numRuns: 2 }) as [Faults, Faults];
          const sim = new Simulation();
          // Until a side hears anything, its silence counts from the open.
          const heard = { client: 0, server: 0 };
          const deaths: { side: 'client' | 'server'; at: number }[] = [];
          const closed: string[] = [];
          const listen = (side: 'client' | 'server') => (e: HostEvent) => {
            if (e.type === 'received') heard[side] = e.at;
            if (e.type === 'dead') deaths.push({ side, at: e.at });
            if (e.type === 'closed') closed.push(side);
          };
          const server = sim.host({ onEvent: listen('server') });
          const client = sim.host({ onEvent: listen('client') });
          const link = chaosLink(sim, client, 'c', server, 's', { random: seededRandom(seed), aToB: up, bToA: down });
          server.host.open({ id: 's', role: 'server', ...pair.server });
          client.host.open({ id: 'c', role: 'client', ...pair.client });

          sim.runUntil(cutAt);
          expect(deaths).toEqual([]);
          if (direction !== 'bToA') link.cut.aToB = true;
          if (direction !== 'aToB') link.cut.bToA = true;
          const slowest = Math.max(up.latency + up.jitter + up.holdMax, down.latency + down.jitter + down.holdMax);
          const bound = (side: 'client' | 'server') => pair[side].interval * (pair[side].count + 1);
          sim.runUntil(cutAt + slowest + Math.max(bound('client'), bound('server')) + 1);

          for (const death of deaths) {
            expect(death.at).toBe(heard[death.side] + bound(death.side));
            expect(death.at).toBeLessThanOrEqual(cutAt + slowest + bound(death.side));
          }
          // Who must notice: a PINGing side that hears nothing more, or one whose PINGs now go
          // unanswered by a peer that does not PING itself. A side that never PINGs learns
          // only from its peer's close, if that still gets through.
          const deaf = { client: direction !== 'aToB', server: direction !== 'bToA' };
          for (const side of ['client', 'server'] as const) {
            const other = side === 'client' ? 'server' : 'client';
            const mustNotice = pair[side].sendPings && (deaf[side] || !pair[other].sendPings);
            if (mustNotice) expect(deaths.some((d) => d.side === side) || closed.includes(side), `${side} noticed`).toBe(true);
          }
          if (pair.client.sendPings || pair.server.sendPings) expect(deaths.length).toBeGreaterThan(0);
        },
      ),
      { seed: 4242, numRuns: runs },
    );
  });
});
