import type { FigureResult, Measurement, Results } from './result.ts';

/** Three significant digits, thousands separated: 2,410,000 / 1.86 / 0.0421. */
export function num(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  if (value === 0) return '0';
  const digits = Math.abs(value) >= 100 ? 0 : Math.max(0, 2 - Math.floor(Math.log10(Math.abs(value))));
  return Number(value.toPrecision(3)).toLocaleString('en', { maximumFractionDigits: digits });
}

const ratio = (r: number | null) => (r === null || !Number.isFinite(r) ? '-' : `${num(r)}x`);
const met = (m: boolean | null) => (m === null ? '-' : m ? 'yes' : 'NO');

const HEAD = ['#', 'figure / part', 'value', 'baseline', 'ratio', 'target', 'met'];

function rows(results: Results): string[][] {
  const out: string[][] = [];
  for (const f of results.figures) {
    out.push([String(f.figure), f.error ? `${f.name} (FAILED: ${f.error.split('\n')[0]})` : f.name, ...cells(f)]);
    for (const part of f.parts) out.push(['', `  ${part.name}`, ...cells(part)]);
  }
  return out;
}

function cells(m: Measurement): string[] {
  const unit = m.unit ? ` ${m.unit}` : '';
  return [`${num(m.value)}${unit}`, m.baseline === null ? '-' : `${num(m.baseline)}${unit}`, ratio(m.ratio), m.target ?? '-', met(m.met)];
}

/** The results as a fixed-width table for a terminal. */
export function textTable(results: Results): string {
  const all = [HEAD, ...rows(results)];
  const widths = HEAD.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r) => r.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** The same table in Markdown, for BENCHMARKS.md. */
export function markdownTable(results: Results): string {
  const escape = (c: string) => c.replace(/\|/g, '\\|');
  const lines = [`| ${HEAD.join(' | ')} |`, `|${HEAD.map((_, i) => (i >= 2 && i <= 4 ? '---:' : '---')).join('|')}|`];
  for (const r of rows(results)) lines.push(`| ${r.map((c, i) => (i === 1 && r[0] !== '' ? `**${escape(c)}**` : escape(c.trim()))).join(' | ')} |`);
  return lines.join('\n');
}

export function notes(figures: FigureResult[]): string {
  return figures
    .filter((f) => f.notes.length > 0 || f.scale)
    .map((f) => `${f.figure}. ${f.scale}${f.notes.map((n) => `\n   - ${n}`).join('')}`)
    .join('\n');
}
