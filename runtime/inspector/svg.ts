/**
 * Draws a laid-out chart as SVG text. Every state and every transition is real text
 * with data attributes (`data-state`, `data-source`, `data-target`, `data-event`,
 * `data-guard`), so the page can light up the current state and the transition taken,
 * and a test can check the drawing against the machine without a browser.
 */
import { METRICS, type ChartLayout, type Point, type StateBox, type TransitionLine } from './layout.ts';

const MARGIN = 8;
const CORNER = 6;

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const n = (value: number) => String(Math.round(value * 10) / 10);

/** An orthogonal polyline with its bends rounded off. */
function roundedPath(points: readonly Point[]): string {
  if (points.length === 0) return '';
  let d = `M${n(points[0]!.x)},${n(points[0]!.y)}`;
  for (let i = 1; i < points.length; i++) {
    const p = points[i]!;
    const next = points[i + 1];
    if (!next) {
      d += ` L${n(p.x)},${n(p.y)}`;
      break;
    }
    const prev = points[i - 1]!;
    const r = Math.min(CORNER, Math.hypot(p.x - prev.x, p.y - prev.y) / 2, Math.hypot(next.x - p.x, next.y - p.y) / 2);
    const inX = p.x - Math.sign(p.x - prev.x) * r;
    const inY = p.y - Math.sign(p.y - prev.y) * r;
    const outX = p.x + Math.sign(next.x - p.x) * r;
    const outY = p.y + Math.sign(next.y - p.y) * r;
    d += ` L${n(inX)},${n(inY)} Q${n(p.x)},${n(p.y)} ${n(outX)},${n(outY)}`;
  }
  return d;
}

function transitionText(line: TransitionLine, x: number, y: number, inner: boolean): string {
  const t = line.transition;
  const tooltip = [
    `${t.event || 'always (no event)'}${t.guard ? ` if ${t.guard}` : ''}`,
    t.targets.length > 0 ? `goes to ${t.targets.join(', ')}` : 'stays in this state',
    t.actions.length > 0 ? `actions: ${t.actions.join(', ')}` : 'no actions',
  ].join('\n');
  const attrs = [
    `class="transition${inner ? ' inner' : ''}"`,
    `data-source="${escapeXml(t.source)}"`,
    `data-target="${escapeXml(t.targets.join(' '))}"`,
    `data-event="${escapeXml(t.event)}"`,
    `data-guard="${escapeXml(t.guard ?? '')}"`,
    `x="${n(x)}"`,
    `y="${n(y)}"`,
  ].join(' ');
  const [event, ...rest] = line.text.split(' ');
  return `<text ${attrs}><title>${escapeXml(tooltip)}</title><tspan class="event">${escapeXml(event!)}</tspan>${rest.length ? ` ${escapeXml(rest.join(' '))}` : ''}</text>`;
}

function stateGroup(state: StateBox): string {
  const { box, header } = state;
  const s = state.state;
  const kind = s.children.length > 0 ? 'compound' : s.kind;
  const out: string[] = [];
  out.push(
    `<g class="state kind-${kind}${s.path === '' ? ' root' : ''}" data-state="${escapeXml(s.path)}" data-depth="${state.depth}">`,
    `<rect class="body" x="${n(box.x)}" y="${n(box.y)}" width="${n(box.width)}" height="${n(box.height)}" rx="10"/>`,
  );
  if (s.kind === 'final') {
    out.push(`<rect class="inner-border" x="${n(box.x + 4)}" y="${n(box.y + 4)}" width="${n(box.width - 8)}" height="${n(box.height - 8)}" rx="7"/>`);
  }
  if (kind === 'compound') {
    out.push(`<line class="divider" x1="${n(box.x)}" x2="${n(box.x + box.width)}" y1="${n(box.y + header)}" y2="${n(box.y + header)}"/>`);
  }
  const left = box.x + METRICS.padX;
  let y = box.y + METRICS.padY + METRICS.titleSize + 2;
  out.push(`<text class="title" x="${n(left)}" y="${n(y)}">${escapeXml(s.key)}</text>`);
  let tagX = left + s.key.length * METRICS.titleSize * METRICS.charWidth + 8;
  for (const tag of s.tags) {
    const w = tag.length * METRICS.tagSize * METRICS.charWidth + 12;
    out.push(
      `<g class="tag"><rect x="${n(tagX)}" y="${n(y - 12)}" width="${n(w)}" height="16" rx="8"/>`,
      `<text x="${n(tagX + 6)}" y="${n(y)}">${escapeXml(tag)}</text></g>`,
    );
    tagX += w + 6;
  }
  y += 4;
  for (const line of state.description) {
    y += METRICS.lineHeight;
    out.push(`<text class="description" x="${n(left)}" y="${n(y)}">${escapeXml(line)}</text>`);
  }
  for (const line of state.lines) {
    y += METRICS.lineHeight;
    out.push(transitionText(line, left, y, true));
  }
  // How many live connections are in this state; the page fills it in.
  out.push(
    `<g class="occupancy" aria-hidden="true"><rect x="${n(box.x + box.width - 34)}" y="${n(box.y + 7)}" width="26" height="16" rx="8"/>`,
    `<text x="${n(box.x + box.width - 21)}" y="${n(box.y + 19)}"></text></g>`,
    '</g>',
  );
  return out.join('');
}

export function renderChartSvg(layout: ChartLayout): string {
  const width = layout.width + MARGIN * 2;
  const height = layout.height + MARGIN * 2;
  const states = layout.states.length;
  const transitions = layout.chart.transitions.length;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="${-MARGIN} ${-MARGIN} ${width} ${height}" width="${width}" height="${height}" role="group" aria-labelledby="chart-title chart-desc">`,
    `<title id="chart-title">${escapeXml(layout.chart.id)} statechart</title>`,
    `<desc id="chart-desc">Drawn from the machine definition: ${states} states and ${transitions} transitions.</desc>`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>',
    '<g class="states">',
    ...layout.states.map(stateGroup),
    '</g><g class="edges">',
  ];
  for (const edge of layout.edges) {
    const initial = edge.source.startsWith('initial:');
    out.push(
      `<g class="edge${initial ? ' initial' : ''}" data-source="${escapeXml(edge.source)}" data-target="${escapeXml(edge.target)}">`,
      `<path d="${roundedPath(edge.points)}" marker-end="url(#arrow)"/>`,
    );
    if (edge.label) {
      const { box, lines } = edge.label;
      out.push(`<g class="label"><rect x="${n(box.x)}" y="${n(box.y)}" width="${n(box.width)}" height="${n(box.height)}" rx="4"/>`);
      lines.forEach((line, i) => out.push(transitionText(line, box.x + 4, box.y + 2 + (i + 1) * METRICS.lineHeight - 4, false)));
      out.push('</g>');
    }
    out.push('</g>');
  }
  out.push('</g><g class="initials">');
  for (const dot of layout.initials) {
    out.push(`<circle class="initial-dot" data-parent="${escapeXml(dot.parent)}" cx="${n(dot.center.x)}" cy="${n(dot.center.y)}" r="${METRICS.initialRadius}"/>`);
  }
  out.push('</g></svg>');
  return out.join('\n');
}
