/**
 * Figure 7, Durable Object wake-ups, counted inside workerd by the Cloudflare adapter
 * itself (`KEEPALIVE_COUNT_WAKES`, read at GET /stats/<hub>): `wrangler dev` as a user runs
 * it (real workerd, real alarms, real auto-response), real loopback WebSockets from a
 * Node process (bench/workers/do-peers.ts), one hub (one object) per scenario.
 *
 * A wake is an event the platform delivers to the object: an alarm, a WebSocket message,
 * a close. Our own GET /stats reads are left out (they are fetches); constructions (the
 * object rebuilt after workerd evicted it, 10 s after its last event) are reported beside.
 */
import { benchFile } from '../lib/paths.ts';
import type { Figure, Measurement } from '../lib/result.ts';
import { spawnNode } from '../lib/spawn.ts';
import { measure, median } from '../lib/stats.ts';
import { wranglerDev, type HubStats, type WranglerDev } from '../lib/wrangler.ts';
import type { PeerMode, PeerStats } from '../workers/do-peers.ts';

const TARGET = 1;
/** Unanswered PINGs before death: a silent peer dies interval * 3 after its last frame. */
const COUNT = 2;
/** workerd evicts an object 10 s after its last event; this interval leaves it evicted between wakes. */
const EVICTED_INTERVAL = 20_000;

interface Scenario {
  mode: PeerMode;
  peers: number;
}

interface WakeCounts {
  alarms: number;
  messages: number;
  pings: number;
  closes: number;
  constructed: number;
}

interface WakeRun {
  scenario: Scenario;
  interval: number;
  /** Measured time in server intervals. */
  intervals: number;
  wakes: WakeCounts;
  /** Wakes per interval in each window. */
  windows: number[];
  /** PINGs the peers sent, and the server sent them, over the measured time. */
  peerPings: number;
  serverPings: number;
  falseDeaths: number;
  steps: number;
  rowWrites: number;
  alarmWrites: number;
}

interface Setting {
  interval: number;
  /** How often a PING-ing peer PINGs: a quarter of the server's interval. */
  period: number;
  slack: number;
  /** Windows end just after an alarm (so a /stats read never wakes an evicted object), else every `windowIntervals`. */
  alignToAlarms: boolean;
  windows: number;
  windowIntervals: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const sum = (w: WakeCounts) => w.alarms + w.messages + w.closes;
const fmt = (n: number) => n.toLocaleString('en');

function delta(a: HubStats, b: HubStats): WakeCounts {
  return {
    alarms: b.wakes.alarms - a.wakes.alarms,
    messages: b.wakes.messages - a.wakes.messages,
    pings: b.wakes.pings - a.wakes.pings,
    closes: b.wakes.closes - a.wakes.closes,
    constructed: b.wakes.constructed - a.wakes.constructed,
  };
}

async function run(dev: WranglerDev, setting: Setting, scenario: Scenario, log: (line: string) => void): Promise<WakeRun> {
  const hub = `${scenario.mode}-${scenario.peers}-${Math.random().toString(36).slice(2, 8)}`;
  const peers = spawnNode(benchFile('workers/do-peers.ts'), [`${dev.wsBase}/connect/${hub}`, String(scenario.peers), scenario.mode, String(setting.period)]);
  try {
    const connected = await peers.next<{ type: string; open: number }>('connected', 120_000);
    if (connected.open !== scenario.peers) throw new Error(`${hub}: ${connected.open} of ${scenario.peers} peers connected`);
    const peerStats = async () => (peers.send({ type: 'stats' }), peers.next<PeerStats & { type: string }>('stats'));
    // Until just after the next alarm, or two intervals: every peer ADVERTISEd and past its first round.
    const boundary = async (last: HubStats | null): Promise<HubStats> => {
      if (setting.alignToAlarms) {
        const armed = (last ?? (await dev.stats(hub))).alarmAt;
        if (armed === null) throw new Error(`${hub}: no alarm armed`);
        await sleep(armed + 300 - Date.now());
      } else await sleep((last ? setting.windowIntervals : 2) * setting.interval);
      return dev.stats(hub);
    };
    let stats = await boundary(null);
    const first = stats;
    const firstPeers = await peerStats();
    let t = performance.now();
    const t0 = t;
    const windows: number[] = [];
    for (let w = 0; w < setting.windows; w++) {
      const next = await boundary(stats);
      const now = performance.now();
      windows.push(sum(delta(stats, next)) / ((now - t) / setting.interval));
      stats = next;
      t = now;
    }
    const lastPeers = await peerStats();
    const wakes = delta(first, stats);
    const result: WakeRun = {
      scenario,
      interval: setting.interval,
      intervals: (t - t0) / setting.interval,
      wakes,
      windows,
      peerPings: lastPeers.pingsSent - firstPeers.pingsSent,
      serverPings: lastPeers.serverPings - firstPeers.serverPings,
      falseDeaths: lastPeers.unexpectedCloses + (scenario.peers - stats.connections),
      steps: stats.host.steps - first.host.steps,
      rowWrites: stats.storage.writes - first.storage.writes,
      alarmWrites: stats.alarmsSet - first.alarmsSet,
    };
    const per = (n: number) => (n / result.intervals).toFixed(2);
    log(
      `${hub} (interval ${setting.interval} ms, slack ${setting.slack} ms): per interval ${per(sum(wakes))} wakes = ${per(wakes.alarms)} alarms + ${per(wakes.messages)} deliveries (${per(wakes.pings)} PINGs) + ${per(wakes.closes)} closes; ` +
        `${per(wakes.constructed)} constructions, ` +
        // These counters live in the instance and restart with each construction.
        (wakes.constructed > 0 ? 'per-instance counters restarted; ' : `${per(result.alarmWrites)} alarm writes, ${per(result.rowWrites)} row writes, ${per(result.steps)} steps; `) +
        `peers sent ${per(result.peerPings)} PINGs, got ${per(result.serverPings)}; ${result.falseDeaths} false deaths; windows ${windows.map((x) => x.toFixed(2)).join(', ')}` +
        (lastPeers.unexpectedCloses > 0 ? ` closes: ${JSON.stringify(lastPeers.closeReasons)}` : ''),
    );
    return result;
  } finally {
    peers.send({ type: 'stop' });
    await peers.exited(10_000).catch(() => peers.kill());
  }
}

/** One `wrangler dev` with these settings; the scenarios one after another, or side by side (quick mode). */
async function runAll(setting: Setting, scenarios: Scenario[], together: boolean, log: (line: string) => void): Promise<WakeRun[]> {
  const dev = await wranglerDev({
    KEEPALIVE_INTERVAL: String(setting.interval),
    KEEPALIVE_COUNT: String(COUNT),
    KEEPALIVE_ALARM_SLACK: String(setting.slack),
    KEEPALIVE_COUNT_WAKES: 'true',
  });
  try {
    if (together) return await Promise.all(scenarios.map((s) => run(dev, setting, s, log)));
    const runs: WakeRun[] = [];
    for (const s of scenarios) runs.push(await run(dev, setting, s, log));
    return runs;
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\nwrangler dev said:\n${dev.output().slice(-3000)}`);
  } finally {
    await dev.stop();
  }
}

function label(r: WakeRun, slack: number): string {
  const per = (n: number) => num(n / r.intervals);
  const kind = r.scenario.mode === 'pinger' ? 'PING-ing' : 'answering';
  const setting = r.interval === EVICTED_INTERVAL ? `, ${r.interval / 1000} s interval (evicted between wakes)` : slack > 0 ? `, alarm slack ${slack} ms` : '';
  return `${fmt(r.scenario.peers)} ${kind} peer${r.scenario.peers === 1 ? '' : 's'}${setting}: ${per(r.wakes.alarms)} alarms + ${per(r.wakes.messages)} deliveries, ${per(r.wakes.constructed)} constructions`;
}

const num = (n: number) => (Math.abs(n) >= 10 ? n.toFixed(0) : n.toFixed(2));

/**
 * Baseline: an object that handles every keepalive frame itself, as it would without the
 * platform's auto-response: a delivery for each PING a peer sends, and for each PING it
 * sends a timer wake plus the delivery of the PONG. Counted from the same run's frames.
 */
function wakePart(r: WakeRun, slack: number): Measurement {
  const m = measure({
    name: label(r, slack),
    unit: 'wakes/interval',
    samples: [sum(r.wakes) / r.intervals],
    baselineSamples: [(r.peerPings + 2 * r.serverPings) / r.intervals],
    baselineName: 'a wake per keepalive frame the object handles',
    target: `<= ${TARGET}`,
    meets: (value) => value <= TARGET,
  });
  // The value is the whole measured time's rate (whole-number counts in short windows would round); the windows are kept as samples.
  return { ...m, samples: r.windows };
}

const figure: Figure = {
  figure: 7,
  name: 'Durable Object wake-ups',
  async run({ quick, runs, log }) {
    const interval = quick ? 1000 : 2000;
    const sizes = quick ? [1, 100] : [1, 100, 1000];
    const main: Setting = { interval, period: interval / 4, slack: 0, alignToAlarms: false, windows: runs, windowIntervals: quick ? 1 : 2 };
    const scenarios = (['pinger', 'answerer'] as const).flatMap((mode) => sizes.map((peers) => ({ mode, peers })));
    // The evicted object's run is long and light: it runs beside the others, in its own wrangler dev.
    const evicted = quick
      ? Promise.resolve([])
      : runAll({ interval: EVICTED_INTERVAL, period: EVICTED_INTERVAL / 4, slack: 0, alignToAlarms: true, windows: runs, windowIntervals: 1 }, [{ mode: 'pinger', peers: 1000 }], false, log);
    const exact = await runAll(main, scenarios, quick, log);
    const slack = quick ? [] : await runAll({ ...main, slack: main.period }, [{ mode: 'pinger', peers: 1000 }, { mode: 'answerer', peers: 1000 }], false, log);
    const evictedRuns = await evicted;

    const pingers = exact.filter((r) => r.scenario.mode === 'pinger');
    const answerers = exact.filter((r) => r.scenario.mode === 'answerer');
    const pingerParts = pingers.map((r) => wakePart(r, 0));
    const all = [...exact, ...slack, ...evictedRuns];
    const allPingers = all.filter((r) => r.scenario.mode === 'pinger');
    const pingWakes = measure({
      name: `wakes caused by peer PINGs (${allPingers.length} runs of PING-ing peers)`,
      unit: 'wakes/interval',
      samples: [allPingers.reduce((s, r) => s + r.wakes.pings / r.intervals, 0)],
      baselineSamples: [allPingers.reduce((s, r) => s + r.peerPings / r.intervals, 0)],
      baselineName: 'PINGs the peers sent',
      target: '0',
      meets: (value) => value === 0,
    });
    const falseDeaths = measure({
      name: 'peers the server closed (false deaths: every peer answers)',
      unit: 'deaths',
      samples: [all.reduce((s, r) => s + r.falseDeaths, 0)],
      target: '0',
      meets: (value) => value === 0,
    });
    const headline = pingerParts.at(-1)!;
    const parts: Measurement[] = [
      ...pingerParts,
      pingWakes,
      ...evictedRuns.map((r) => wakePart(r, 0)),
      ...answerers.map((r) => wakePart(r, 0)),
      ...slack.map((r) => wakePart(r, main.period)),
      falseDeaths,
    ];
    const spread = pingers.map((r) => sum(r.wakes) / r.intervals);
    const notes = [
      `Per object per server interval, over the whole measured time (${runs} windows of ${main.windowIntervals} interval(s) each, kept as samples). Interval ${interval} ms, count ${COUNT}; PING-ing peers PING every ${main.period} ms (a quarter of it), random phase; answering peers send nothing but PONGs to the server's PINGs.`,
      `Wakes = alarms + WebSocket message deliveries + closes the platform delivered to the object; the figure's own GET /stats reads (fetches) are left out. Constructions: the object rebuilt after workerd evicted it (10 s after its last event), counted within the wakes that caused them.`,
      `Baseline: an object that handles every keepalive frame itself (no auto-response): a delivery per PING a peer sent, a timer wake plus the PONG's delivery per PING the server sent; counted from the same run's frames.`,
      `PING-ing peers at ${sizes.map(fmt).join(', ')} connections: ${spread.map((s) => s.toFixed(2)).join(', ')} wakes/interval (max/min ${(Math.max(...spread) / Math.min(...spread)).toFixed(2)}); median window ${pingers.map((r) => median(r.windows).toFixed(2)).join(', ')}.`,
      ...(quick ? [] : [`Alarm slack rows: KEEPALIVE_ALARM_SLACK = ${main.period} ms (deaths up to that late). Evicted row: interval ${EVICTED_INTERVAL / 1000} s, peers PING every ${EVICTED_INTERVAL / 4000} s, windows end just after each alarm.`]),
    ];
    return {
      ...headline,
      name: `Durable Object wakes per interval, ${fmt(sizes.at(-1)!)} PING-ing peers`,
      target: `<= ${TARGET} at ${sizes.map(fmt).join(', ')} peers; 0 from peer PINGs`,
      met: pingerParts.every((p) => p.met === true) && pingWakes.met === true && falseDeaths.met === true,
      scale: `wrangler dev (local workerd), ${sizes.map(fmt).join(' / ')} peers per object, ${runs} windows of ${main.windowIntervals} x ${interval} ms${quick ? ' (quick mode: up to 100 peers instead of 1,000, scenarios side by side, no slack or eviction rows)' : ''}`,
      parts,
      notes,
    };
  },
};
export default figure;
