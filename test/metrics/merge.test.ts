/**
 * One scrape for a hub spread over Durable Objects (the Worker's `/metrics/<hub>`): every
 * object's exposition merged, read back with a real Prometheus parser.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { HubMetrics } from '../../runtime/metrics/hub-metrics.ts';
import { mergeExpositions } from '../../runtime/metrics/exposition.ts';
import type { Family } from '../support/metrics.ts';

function exposition(opened: number): string {
  const metrics = new HubMetrics();
  // Counters without a host: what a shard with `opened` connections opened would say.
  const text = metrics.render();
  return text.replace(/^keepalive_connections_opened_total 0$/m, `keepalive_connections_opened_total ${opened}`);
}

describe('mergeExpositions', () => {
  it('gives each family one header and every part its samples, labelled with the part; the parser reads it', () => {
    const parts = [3, 5, 0, 7].map((opened, shard) => ({ labels: { shard: String(shard) }, text: exposition(opened) }));
    const merged = mergeExpositions(parts);
    const families = parsePrometheusTextFormat(merged) as Family[];
    const single = parsePrometheusTextFormat(parts[0]!.text) as Family[];
    expect(families.map((f) => f.name)).toEqual(single.map((f) => f.name));
    const opened = families.find((f) => f.name === 'keepalive_connections_opened_total')!;
    expect(opened.metrics.map((m) => [m.labels?.shard, m.value])).toEqual([
      ['0', '3'],
      ['1', '5'],
      ['2', '0'],
      ['3', '7'],
    ]);
    // A histogram's series per part, `le` after the part's label (read as text: the parser folds
    // a labelled histogram's series into one).
    expect(merged.match(/^keepalive_unanswered_pings_at_death_count\{shard="\d"\} 0$/gm)).toHaveLength(4);
    expect(merged).toMatch(/^keepalive_unanswered_pings_at_death_bucket\{shard="2",le="\+Inf"\} 0$/m);
    expect(merged.match(/^# TYPE keepalive_connections_opened_total counter$/gm)).toHaveLength(1);
  });

  it('escapes label values', () => {
    const merged = mergeExpositions([{ labels: { part: 'a "quoted"\nline\\' }, text: '# HELP x_total x\n# TYPE x_total counter\nx_total{k="v"} 1\n' }]);
    expect(merged).toBe('# HELP x_total x\n# TYPE x_total counter\nx_total{part="a \\"quoted\\"\\nline\\\\",k="v"} 1\n');
    const [family] = parsePrometheusTextFormat(merged) as Family[];
    expect(family!.metrics[0]!.labels).toEqual({ part: 'a "quoted"\nline\\', k: 'v' });
  });
});
