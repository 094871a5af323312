/**
 * Counters, gauges and histograms, written out in the Prometheus text exposition format
 * (version 0.0.4). Our own, not prom-client: the same code must run in workerd, where
 * prom-client's Node built-ins (and its process-wide default registry) do not fit, and a
 * hub needs nothing beyond these three kinds. Gauges may be read at scrape time.
 */

type Labels = Readonly<Record<string, string>>;

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  lines(): string[];
}

/** A series' key from its label values, in the order the family declared its label names: no work beyond a join on a hot path. */
const key = (names: readonly string[], labels: Labels): string => (names.length === 1 ? (labels[names[0]!] ?? '') : names.map((name) => labels[name] ?? '').join('\u0000'));

function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return '';
  return `{${pairs.map(([name, value]) => `${name}="${escapeLabel(value)}"`).join(',')}}`;
}

const number = (value: number): string => (Number.isFinite(value) ? String(value) : value > 0 ? '+Inf' : value < 0 ? '-Inf' : 'NaN');

export class Counter implements Family {
  readonly type = 'counter';
  readonly name: string;
  readonly help: string;
  readonly #labelNames: readonly string[];
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  /** `labelNames`: the labels its series are told apart by (`inc` takes those). */
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    this.name = name;
    this.help = help;
    this.#labelNames = labelNames;
  }

  inc(labels: Labels = {}, by = 1): void {
    const k = key(this.#labelNames, labels);
    const entry = this.#values.get(k);
    if (entry) entry.value += by;
    else this.#values.set(k, { labels, value: by });
  }

  get(labels: Labels = {}): number {
    return this.#values.get(key(this.#labelNames, labels))?.value ?? 0;
  }

  lines(): string[] {
    if (this.#values.size === 0) return [`${this.name} 0`];
    return [...this.#values.values()].map(({ labels, value }) => `${this.name}${labelText(labels)} ${number(value)}`);
  }
}

/** A value read when scraped (a gauge, or a counter something else keeps): one number, or rows of labels and values. */
export class Sampled implements Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly read: () => number | readonly { labels: Labels; value: number }[];
  constructor(name: string, help: string, type: 'counter' | 'gauge', read: () => number | readonly { labels: Labels; value: number }[]) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.read = read;
  }

  lines(): string[] {
    const value = this.read();
    if (typeof value === 'number') return [`${this.name} ${number(value)}`];
    return value.map((row) => `${this.name}${labelText(row.labels)} ${number(row.value)}`);
  }
}

export class Histogram implements Family {
  readonly type = 'histogram';
  readonly name: string;
  readonly help: string;
  readonly buckets: readonly number[];
  readonly #labelNames: readonly string[];
  readonly #series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []) {
    this.name = name;
    this.help = help;
    this.buckets = buckets;
    this.#labelNames = labelNames;
  }

  observe(value: number, labels: Labels = {}): void {
    const k = key(this.#labelNames, labels);
    let series = this.#series.get(k);
    if (!series) this.#series.set(k, (series = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    series.sum += value;
    series.count++;
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) series.counts[i]!++;
  }

  /** Observations so far, over every label set. */
  get count(): number {
    let count = 0;
    for (const series of this.#series.values()) count += series.count;
    return count;
  }

  lines(): string[] {
    const all = this.#series.size > 0 ? [...this.#series.values()] : [{ labels: {}, counts: this.buckets.map(() => 0), sum: 0, count: 0 }];
    return all.flatMap(({ labels, counts, sum, count }) => [
      ...this.buckets.map((le, i) => `${this.name}_bucket${labelText(labels, ['le', number(le)])} ${counts[i]}`),
      `${this.name}_bucket${labelText(labels, ['le', '+Inf'])} ${count}`,
      `${this.name}_sum${labelText(labels)} ${number(sum)}`,
      `${this.name}_count${labelText(labels)} ${count}`,
    ]);
  }
}

export class Registry {
  readonly #families: Family[] = [];

  add<T extends Family>(family: T): T {
    this.#families.push(family);
    return family;
  }

  /** The whole exposition, `text/plain; version=0.0.4`. */
  render(): string {
    const out: string[] = [];
    for (const family of this.#families) {
      out.push(`# HELP ${family.name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${family.name} ${family.type}`, ...family.lines());
    }
    return `${out.join('\n')}\n`;
  }
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Several expositions of the same families as one (a sharded hub's objects, scraped in one
 * request): each family's header once, then every part's samples, each part's labelled
 * with its own `labels` (e.g. `{ shard: "2" }`) so no two samples share a series.
 */
export function mergeExpositions(parts: readonly { labels: Readonly<Record<string, string>>; text: string }[]): string {
  const families = new Map<string, { header: string[]; samples: string[] }>();
  for (const { labels, text } of parts) {
    const extra = Object.entries(labels)
      .map(([name, value]) => `${name}="${escapeLabel(value)}"`)
      .join(',');
    let family: { header: string[]; samples: string[] } | undefined;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const header = /^# (?:HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
      if (header) {
        const name = header[1]!;
        const known = families.get(name);
        family = known ?? { header: [], samples: [] };
        if (!known) families.set(name, family);
        if (family.header.length < 2 && !family.header.includes(line)) family.header.push(line);
        continue;
      }
      if (line.startsWith('#') || !family) continue;
      const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0];
      const rest = line.slice(name.length);
      family.samples.push(rest.startsWith('{') ? `${name}{${extra},${rest.slice(1)}` : `${name}{${extra}}${rest}`);
    }
  }
  const out: string[] = [];
  for (const { header, samples } of families.values()) out.push(...header, ...samples);
  return `${out.join('\n')}\n`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
