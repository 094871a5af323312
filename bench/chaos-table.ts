/**
 * The false-death table: how often a live peer is declared dead against frame loss, per
 * keepalive configuration, measured on the seeded chaos link (test/support/chaos.ts) and
 * set against the model (test/support/loss-model.ts). Prints Markdown for the README.
 *
 *   npm run chaos-table                 # about a minute on one core
 *   npm run chaos-table -- --scale 10   # ten times the simulated time per cell
 *
 * Every cell replays exactly from its seed; frames are also duplicated (2%), reordered
 * (5% held back up to interval/10) and jittered (5-25 ms), which the model ignores.
 */
import { parseArgs } from 'node:util';
import { runChaos, type ChaosRunResult, type Faults } from '../test/support/chaos.ts';
import { DAY, falseDeathsPerHour, HOUR, meanTimeToFalseDeath, toleratedLoss, windowDeath, YEAR, type ProbeConfig } from '../test/support/loss-model.ts';

const { values } = parseArgs({ options: { scale: { type: 'string', default: '1' }, seed: { type: 'string', default: '20261125' } } });
const scale = Number(values.scale);
const seed = Number(values.seed);

const LOSSES = [0.01, 0.05, 0.1, 0.2, 0.3, 0.5];
/** libvirtd's and this project's defaults first, then shorter fuses. */
const ONE_SIDED: ProbeConfig[] = [
  { interval: 5000, count: 5 },
  { interval: 5000, count: 3 },
  { interval: 2000, count: 2 },
  { interval: 1000, count: 1 },
];
const TWO_SIDED: { server: ProbeConfig; client: ProbeConfig }[] = [
  { server: { interval: 5000, count: 5 }, client: { interval: 5000, count: 5 } },
  { server: { interval: 5000, count: 5 }, client: { interval: 3000, count: 3 } },
];
/** Per cell: stop after this many false deaths, or this many simulated intervals. */
const ENOUGH_DEATHS = 400 * scale;
const INTERVALS = 150_000 * scale;
const CHUNKS = 10;

const faults = (drop: number, interval: number): Partial<Faults> => ({
  drop,
  latency: 5,
  jitter: 20,
  duplicate: 0.02,
  reorder: 0.05,
  holdMax: interval / 10,
});
const meanRtt = (interval: number) => 2 * (5 + 10 + 0.05 * (interval / 20));

interface Cell {
  hours: number;
  deaths: number;
  client: number;
  server: number;
}

/** Runs independent chunks (seed, seed+1, ...) until the cell has enough deaths or time. */
function measure(server: ProbeConfig & { sendPings: boolean }, client: ProbeConfig & { sendPings: boolean }, loss: number, cellSeed: number): Cell {
  const interval = Math.min(server.sendPings ? server.interval : Infinity, client.sendPings ? client.interval : Infinity);
  const cell: Cell = { hours: 0, deaths: 0, client: 0, server: 0 };
  for (let chunk = 0; chunk < CHUNKS && cell.deaths < ENOUGH_DEATHS; chunk++) {
    const result: ChaosRunResult = runChaos({
      seed: cellSeed + chunk,
      duration: (INTERVALS / CHUNKS) * interval,
      server,
      client,
      up: faults(loss, interval),
      down: faults(loss, interval),
    });
    cell.hours += result.connectedFor / HOUR;
    cell.deaths += result.deaths.length;
    for (const death of result.deaths) cell[death.side]++;
  }
  return cell;
}

const pct = (p: number) => `${Number((p * 100).toPrecision(2))}%`;
const two = (x: number) => (x >= 10 ? String(Math.round(x)) : x.toPrecision(2));
const hours = (h: number) => (h >= 48 ? `${Math.round(h / 24)} d` : `${+h.toFixed(1)} h`);

function rate(perHour: number): string {
  if (perHour === 0) return '0';
  if (perHour >= 0.1) return perHour.toFixed(2);
  return perHour.toPrecision(2);
}

/** Measured rate with a 95% interval (normal approximation; the rule of three at zero). */
function measured(cell: Cell): string {
  if (cell.deaths === 0) return `0 (< ${rate(3 / cell.hours)})`;
  const spread = (1.96 * Math.sqrt(cell.deaths)) / cell.hours;
  return `${rate(cell.deaths / cell.hours)} ± ${rate(spread)}`;
}

function duration(ms: number): string {
  if (!Number.isFinite(ms)) return 'never';
  if (ms >= 2 * YEAR) return `${two(ms / YEAR)} years`;
  if (ms >= 2 * DAY) return `${two(ms / DAY)} days`;
  if (ms >= 2 * HOUR) return `${two(ms / HOUR)} h`;
  if (ms >= 2 * 60_000) return `${two(ms / 60_000)} min`;
  return `${two(ms / 1000)} s`;
}

const lines: string[] = [];
const out = (line = '') => lines.push(line);
const started = performance.now();

out(`One side PINGs, the peer only answers (\`sendPings: false\`): false deaths per connected hour.`);
out();
out('| interval, count | loss | simulated | false deaths | measured / h (95%) | model / h | model: mean time to a false death |');
out('|---|---|---|---|---|---|---|');
ONE_SIDED.forEach((config, c) => {
  LOSSES.forEach((loss, l) => {
    const cell = measure({ ...config, sendPings: false }, { ...config, sendPings: true }, loss, seed + 1000 * (c * LOSSES.length + l));
    const rtt = meanRtt(config.interval);
    out(
      `| ${config.interval} ms, ${config.count} | ${pct(loss)} | ${hours(cell.hours)} | ${cell.deaths} | ${measured(cell)} | ${rate(falseDeathsPerHour(config, loss, rtt))} | ${duration(meanTimeToFalseDeath(config, loss, loss, rtt))} |`,
    );
  });
});
out();
out('Both sides PING with their own settings: false deaths per connected hour (either side giving up).');
out();
out('| server | client | loss | simulated | false deaths (by client / server) | measured / h (95%) | one-sided model, client + server / h |');
out('|---|---|---|---|---|---|---|');
TWO_SIDED.forEach((pair, c) => {
  LOSSES.forEach((loss, l) => {
    const cell = measure({ ...pair.server, sendPings: true }, { ...pair.client, sendPings: true }, loss, seed + 500_000 + 1000 * (c * LOSSES.length + l));
    const bound = falseDeathsPerHour(pair.client, loss) + falseDeathsPerHour(pair.server, loss);
    out(
      `| ${pair.server.interval} ms, ${pair.server.count} | ${pair.client.interval} ms, ${pair.client.count} | ${pct(loss)} | ${hours(cell.hours)} | ${cell.deaths} (${cell.client} / ${cell.server}) | ${measured(cell)} | ${rate(bound)} |`,
    );
  });
});
out();
out('What each configuration tolerates (model, same loss both ways, one side PINGing):');
out();
out('| interval, count | a probe window fails at 10% loss | loss for one false death a day | a year |');
out('|---|---|---|---|');
for (const config of ONE_SIDED) {
  out(`| ${config.interval} ms, ${config.count} | ${windowDeath(config, 0.1).toPrecision(2)} | ${pct(toleratedLoss(config, DAY))} | ${pct(toleratedLoss(config, YEAR))} |`);
}
out();
out(`(seed ${seed}, scale ${scale}, ${((performance.now() - started) / 1000).toFixed(0)} s)`);
console.log(lines.join('\n'));
