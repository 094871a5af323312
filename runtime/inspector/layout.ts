/**
 * Lays the derived chart out with ELK (elkjs, layered algorithm, orthogonal edges):
 * states nest inside their parents, transitions that change state are edges labelled
 * with every event that takes them, transitions that only run actions are listed inside
 * their state. The result is in absolute coordinates, ready to draw.
 *
 * elkjs is plain JavaScript (no workers, no eval, no fs), so the same layout runs on
 * Node, Deno and in a Worker. It costs ~50-150 ms, so it is computed once per machine.
 */
import type { AnyStateMachine } from 'xstate';
import type { ElkExtendedEdge, ElkLabel, ElkNode } from 'elkjs/lib/elk-api.js';
import { allStates, deriveChart, type Chart, type ChartState, type ChartTransition } from './chart.ts';

export interface Point {
  x: number;
  y: number;
}

export interface Box extends Point {
  width: number;
  height: number;
}

/** One transition as a line of text: `event [guard] ⇒ PING`. */
export interface TransitionLine {
  transition: ChartTransition;
  text: string;
}

export interface StateBox {
  state: ChartState;
  box: Box;
  depth: number;
  /** Height of the title block (title, tags, description, inner transitions). */
  header: number;
  description: string[];
  /** Transitions with no target: they run actions and stay in this state. */
  lines: TransitionLine[];
}

export interface EdgePath {
  id: string;
  /** State paths; an initial arrow starts at `initial:<parent path>`. */
  source: string;
  target: string;
  points: Point[];
  label: { box: Box; lines: TransitionLine[] } | null;
}

export interface ChartLayout {
  chart: Chart;
  width: number;
  height: number;
  /** Parents before children, so drawing in order nests correctly. */
  states: StateBox[];
  /** The filled dot each compound state's initial arrow starts from. */
  initials: { parent: string; center: Point }[];
  edges: EdgePath[];
}

/** Text metrics for the monospace font the chart is drawn in (advance width 0.6 em). */
export const METRICS = {
  titleSize: 13,
  lineSize: 11,
  tagSize: 10,
  charWidth: 0.6,
  titleHeight: 20,
  lineHeight: 16,
  padX: 12,
  padY: 8,
  initialRadius: 5,
  minStateWidth: 112,
  descriptionChars: 40,
} as const;

const textWidth = (text: string, size: number) => Math.ceil([...text].length * size * METRICS.charWidth);
const tagWidth = (tag: string) => textWidth(tag, METRICS.tagSize) + 12;

/** How one transition reads: the event (or `always`), its guard (`else` for a fallback), what it sends. */
export function transitionText(transition: ChartTransition, siblings: readonly ChartTransition[]): string {
  const earlierGuarded = siblings.some((t) => t !== transition && t.guard !== null && siblings.indexOf(t) < siblings.indexOf(transition));
  const guard = transition.guard ?? (earlierGuarded ? 'else' : null);
  const sends = transition.emits.length > 0 ? ` ⇒ ${transition.emits.join(', ')}` : '';
  return `${transition.event || 'always'}${guard ? ` [${guard}]` : ''}${sends}`;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

const nodeId = (path: string) => `state:${path}`;
const initialId = (path: string) => `initial:${path}`;

const LAYOUT_OPTIONS: Record<string, string> = {
  'elk.algorithm': 'layered',
  'elk.direction': 'RIGHT',
  'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.edgeLabels.placement': 'CENTER',
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.layered.spacing.nodeNodeBetweenLayers': '48',
  'elk.layered.spacing.edgeNodeBetweenLayers': '20',
  'elk.layered.spacing.edgeEdgeBetweenLayers': '14',
  'elk.spacing.nodeNode': '32',
  'elk.spacing.edgeNode': '18',
  'elk.spacing.edgeEdge': '14',
  'elk.spacing.edgeLabel': '6',
  'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
};

export async function layoutChart(chart: Chart): Promise<ChartLayout> {
  const byEvent = new Map<string, ChartTransition[]>();
  for (const t of chart.transitions) {
    const key = `${t.source}\u0000${t.event}`;
    byEvent.set(key, [...(byEvent.get(key) ?? []), t]);
  }
  const line = (t: ChartTransition): TransitionLine => ({ transition: t, text: transitionText(t, byEvent.get(`${t.source}\u0000${t.event}`)!) });

  // Blocks drawn at the top of each state: title, tags, description, inner transitions.
  const blocks = new Map<string, { header: number; minWidth: number; description: string[]; lines: TransitionLine[] }>();
  for (const state of allStates(chart)) {
    const description = state.description ? wrap(state.description, METRICS.descriptionChars) : [];
    const lines = chart.transitions.filter((t) => t.source === state.path && t.targets.length === 0).map(line);
    const title = textWidth(state.key, METRICS.titleSize) + state.tags.reduce((w, tag) => w + 6 + tagWidth(tag), 0);
    const widest = Math.max(
      title,
      ...description.map((d) => textWidth(d, METRICS.lineSize)),
      ...lines.map((l) => textWidth(l.text, METRICS.lineSize)),
    );
    const header = METRICS.padY * 2 + METRICS.titleHeight + (description.length + lines.length) * METRICS.lineHeight;
    blocks.set(state.path, { header, minWidth: Math.max(METRICS.minStateWidth, widest + METRICS.padX * 2), description, lines });
  }

  const toElk = (state: ChartState): ElkNode => {
    const block = blocks.get(state.path)!;
    if (state.children.length === 0) return { id: nodeId(state.path), width: block.minWidth, height: block.header };
    const d = METRICS.initialRadius * 2;
    return {
      id: nodeId(state.path),
      layoutOptions: {
        'elk.padding': `[top=${block.header + 12},left=20,bottom=20,right=20]`,
        'elk.nodeSize.constraints': '[MINIMUM_SIZE]',
        'elk.nodeSize.minimum': `(${block.minWidth}, ${block.header + 40})`,
      },
      children: [...(state.initial ? [{ id: initialId(state.path), width: d, height: d }] : []), ...state.children.map(toElk)],
    };
  };

  // One edge per (source, target): its label lists every transition that takes it.
  const grouped = new Map<string, { source: string; target: string; lines: TransitionLine[] }>();
  for (const t of chart.transitions) {
    for (const target of t.targets) {
      const key = `${t.source}\u0000${target}`;
      const group = grouped.get(key) ?? { source: t.source, target, lines: [] };
      group.lines.push(line(t));
      grouped.set(key, group);
    }
  }
  const edges: ElkExtendedEdge[] = [];
  const edgeLines = new Map<string, TransitionLine[]>();
  for (const [key, group] of grouped) {
    const id = `edge:${key.replace('\u0000', '->')}`;
    edgeLines.set(id, group.lines);
    const label: ElkLabel = {
      id: `${id}:label`,
      text: group.lines.map((l) => l.text).join('\n'),
      width: Math.max(...group.lines.map((l) => textWidth(l.text, METRICS.lineSize))) + 8,
      height: group.lines.length * METRICS.lineHeight + 4,
    };
    edges.push({ id, sources: [nodeId(group.source)], targets: [nodeId(group.target)], labels: [label] });
  }
  for (const state of allStates(chart)) {
    if (state.initial) edges.push({ id: `edge:${initialId(state.path)}`, sources: [initialId(state.path)], targets: [nodeId(state.initial)] });
  }

  // A CommonJS module whose `module.exports` is the constructor and also its own `default`:
  // `.default.default` is that constructor under Node, Deno and bundlers alike.
  const ELK = (await import('elkjs/lib/elk.bundled.js')).default.default;
  const elk = new ELK();
  const input: ElkNode = { id: 'chart', layoutOptions: LAYOUT_OPTIONS, children: [toElk(chart.root)], edges };
  const graph: ElkNode = await elk.layout(input);

  // ELK gives each node relative to its parent and each edge relative to its container.
  const origin = new Map<string, Point>([['chart', { x: 0, y: 0 }]]);
  const states: StateBox[] = [];
  const initials: ChartLayout['initials'] = [];
  const statesByPath = new Map(allStates(chart).map((s) => [s.path, s]));
  const place = (node: ElkNode, parent: Point, depth: number) => {
    const at = { x: parent.x + (node.x ?? 0), y: parent.y + (node.y ?? 0) };
    origin.set(node.id, at);
    if (node.id.startsWith('initial:')) {
      const r = METRICS.initialRadius;
      initials.push({ parent: node.id.slice('initial:'.length), center: { x: at.x + r, y: at.y + r } });
    } else if (node.id.startsWith('state:')) {
      const state = statesByPath.get(node.id.slice('state:'.length))!;
      const block = blocks.get(state.path)!;
      states.push({
        state,
        box: { ...at, width: node.width ?? 0, height: node.height ?? 0 },
        depth,
        header: block.header,
        description: block.description,
        lines: block.lines,
      });
    }
    for (const child of node.children ?? []) place(child, at, node.id.startsWith('state:') ? depth + 1 : depth);
  };
  place(graph, { x: 0, y: 0 }, 0);

  const paths: EdgePath[] = (graph.edges ?? []).map((edge: ElkExtendedEdge) => {
    const base = origin.get((edge as { container?: string }).container ?? 'chart') ?? { x: 0, y: 0 };
    const shift = (p: Point): Point => ({ x: base.x + p.x, y: base.y + p.y });
    const points: Point[] = [];
    for (const section of edge.sections ?? []) {
      for (const p of [section.startPoint, ...(section.bendPoints ?? []), section.endPoint]) {
        const q = shift(p);
        const last = points.at(-1);
        if (!last || last.x !== q.x || last.y !== q.y) points.push(q);
      }
    }
    const label = edge.labels?.[0];
    const lines = edgeLines.get(edge.id);
    const strip = (id: string) => id.replace(/^state:/, '');
    return {
      id: edge.id,
      source: strip(edge.sources[0]!),
      target: strip(edge.targets[0]!),
      points,
      label: label && lines ? { box: { ...shift({ x: label.x ?? 0, y: label.y ?? 0 }), width: label.width ?? 0, height: label.height ?? 0 }, lines } : null,
    };
  });

  return { chart, width: Math.ceil(graph.width ?? 0), height: Math.ceil(graph.height ?? 0), states, initials, edges: paths };
}

const cache = new WeakMap<AnyStateMachine, Promise<ChartLayout>>();

/** The laid-out chart of `machine`, computed on first use and kept. */
export function chartLayout(machine: AnyStateMachine): Promise<ChartLayout> {
  let layout = cache.get(machine);
  if (!layout) {
    layout = layoutChart(deriveChart(machine));
    // A failed layout is not kept, so the next request tries again.
    layout.catch(() => cache.delete(machine));
    cache.set(machine, layout);
  }
  return layout;
}
