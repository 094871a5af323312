/**
 * The statechart as data, read from the machine definition itself (XState's StateNode
 * tree): states, nesting, initial states, final states, tags and every transition with
 * its event, guard, targets and actions. Nothing here knows the keepalive machine, so
 * the drawing follows whatever the machine says.
 */
import type { AnyStateMachine } from 'xstate';

export type StateKind = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

export interface ChartState {
  /** Dotted path from the root, as the host reports states: `alive.watching`; '' for the root. */
  path: string;
  key: string;
  kind: StateKind;
  /** Path of the initial child, for compound states. */
  initial: string | null;
  tags: string[];
  description: string | null;
  children: ChartState[];
}

export interface ChartTransition {
  /** Unique, stable for a given machine: `source:event:index`. */
  id: string;
  source: string;
  /** Paths; empty for a targetless transition (actions only, no state change). */
  targets: string[];
  /** The event type; '' for an eventless (`always`) transition. */
  event: string;
  guard: string | null;
  actions: string[];
  /** Keepalive messages (or other events) this transition emits, read from static `emit` actions. */
  emits: string[];
}

export interface Chart {
  id: string;
  root: ChartState;
  transitions: ChartTransition[];
}

/** The slice of XState's StateNode this reads; the public type is heavy with generics. */
interface NodeLike {
  key: string;
  type: string;
  path: string[];
  tags: string[];
  description?: string;
  states: Record<string, NodeLike>;
  initial: { target: readonly NodeLike[] } | undefined;
  transitions: Map<string, TransitionLike[]>;
  always?: TransitionLike[];
}

interface TransitionLike {
  target: readonly NodeLike[] | undefined;
  guard?: unknown;
  actions: readonly unknown[];
}

const pathOf = (node: NodeLike): string => node.path.join('.');

export function deriveChart(machine: AnyStateMachine): Chart {
  const root = machine.root as unknown as NodeLike;
  const implementations = (machine.implementations?.actions ?? {}) as Record<string, unknown>;
  const transitions: ChartTransition[] = [];

  const visit = (node: NodeLike): ChartState => {
    const path = pathOf(node);
    const add = (event: string, list: readonly TransitionLike[]) =>
      list.forEach((transition, index) => {
        const actions = transition.actions.map(actionName);
        transitions.push({
          id: `${path}:${event}:${index}`,
          source: path,
          targets: (transition.target ?? []).map(pathOf),
          event,
          guard: transition.guard === undefined ? null : guardName(transition.guard),
          actions,
          emits: transition.actions.flatMap((action) => emitted(action, implementations)),
        });
      });
    add('', node.always ?? []);
    for (const [event, list] of node.transitions) add(event, list);
    const children = Object.values(node.states).map(visit);
    const initial = node.initial?.target[0];
    return {
      path,
      key: node.key,
      kind: node.type as StateKind,
      initial: children.length > 0 && initial ? pathOf(initial) : null,
      tags: [...node.tags],
      description: node.description ?? null,
      children,
    };
  };

  const chartRoot = visit(root);
  return { id: root.key, root: chartRoot, transitions };
}

/** Every state of the chart, depth first (root included). */
export function allStates(chart: Chart): ChartState[] {
  const out: ChartState[] = [];
  const walk = (state: ChartState) => {
    out.push(state);
    state.children.forEach(walk);
  };
  walk(chart.root);
  return out;
}

/** How a guard reads on the chart: its name, `!name` for XState's `not(...)`. */
function guardName(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (guard && (typeof guard === 'object' || typeof guard === 'function')) {
    const g = guard as { type?: unknown; name?: unknown; guards?: unknown };
    if (g.type === 'xstate.not' && Array.isArray(g.guards)) return `!${guardName(g.guards[0])}`;
    if (typeof g.type === 'string' && (g.type === 'xstate.and' || g.type === 'xstate.or') && Array.isArray(g.guards)) {
      return g.guards.map(guardName).join(g.type === 'xstate.and' ? ' && ' : ' || ');
    }
    if (typeof g.type === 'string') return g.type;
    if (typeof g.name === 'string' && g.name) return g.name;
  }
  return 'guard';
}

function actionName(action: unknown): string {
  if (typeof action === 'string') return action;
  if (action && (typeof action === 'object' || typeof action === 'function')) {
    const a = action as { type?: unknown; name?: unknown };
    if (typeof a.type === 'string') return a.type;
    if (typeof a.name === 'string' && a.name) return a.name;
  }
  return 'action';
}

/**
 * What a named action emits, when the emitted event is fixed in the definition
 * (`emit({ type: 'send', message: 'PING' })` reads as `PING`); computed emits are
 * known only when they run, so they show by action name only.
 */
function emitted(action: unknown, implementations: Record<string, unknown>): string[] {
  const implementation = typeof action === 'string' ? implementations[action] : action;
  if (!implementation || typeof implementation !== 'function') return [];
  const emit = implementation as { type?: unknown; event?: unknown };
  if (emit.type !== 'xstate.emit' || !emit.event || typeof emit.event !== 'object') return [];
  const event = emit.event as Record<string, unknown>;
  const detail = Object.entries(event).find(([key, value]) => key !== 'type' && typeof value === 'string');
  return [detail ? String(detail[1]) : String(event.type)];
}
