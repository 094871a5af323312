/**
 * XState's step, for the steps a connection takes at rest, without the garbage.
 *
 * `machine.transition()` clones the whole snapshot for each `assign`, recomputes its value
 * and tags, and builds Sets and Maps to enter and leave states: about 8 KB per step, once
 * per interval per connection, and what survives a scavenge sizes V8's heap (figure 9).
 * This interprets the same machine, with the same guards and actions, for the steps where
 * that work changes nothing: the selected transition is targetless or goes to an atomic,
 * non-final state, and no state left or entered has entry or exit actions, invocations or
 * eventless transitions. Its actions must be `assign` and `emit`; the context is updated
 * in place. Any other step (the first, a verdict, an ADVERTISE deadline, an unknown shape)
 * is XState's own: `step` returns false having changed nothing.
 *
 * Equal to XState by construction for those steps (same candidate order, the same guard
 * and action arguments, assignments applied in order), and by test: hosts running this are
 * compared frame by frame and snapshot by snapshot with hosts running live actors.
 */
import type { AnyMachineSnapshot, AnyStateNode, EventObject } from 'xstate';

/** What XState hands a guard or an action, minus `spawn`: nothing here may spawn. */
export interface ActionScope {
  self: unknown;
  system: unknown;
}

/** A snapshot kept in place (see `SnapshotStepper`). */
export type MutableSnapshot = { -readonly [K in keyof AnyMachineSnapshot]: AnyMachineSnapshot[K] };

/** The parts of a snapshot every snapshot in the same atomic state shares. */
export interface Shape {
  value: AnyMachineSnapshot['value'];
  _nodes: AnyMachineSnapshot['_nodes'];
  tags: AnyMachineSnapshot['tags'];
}

type Args = { context: Record<string, unknown>; event: EventObject; spawn: () => never } & ActionScope;
type Guard = (args: Args, params: undefined) => boolean;
type Action =
  | { assign: ((args: Args, params: undefined) => object) | Record<string, unknown> }
  | { emit: EventObject | ((args: Args, params: undefined) => EventObject) };

/** What the lean step cannot do: XState takes the step. */
const XSTATE = Symbol('xstate');

interface Candidate {
  guard: Guard | null | typeof XSTATE;
  /** null: targetless. */
  then: { actions: Action[]; target: AnyStateNode | null } | typeof XSTATE;
}

/** Per atomic state and event type: the transitions XState would consider, in its order. */
const plans = new WeakMap<AnyStateNode, Map<string, Candidate[] | typeof XSTATE>>();

const noSpawn = (): never => {
  throw new Error('the lean transition cannot spawn actors (the keepalive machine has no children)');
};

/** The state and its ancestors, innermost first. */
function lineage(node: AnyStateNode): AnyStateNode[] {
  const nodes: AnyStateNode[] = [];
  for (let n: AnyStateNode | undefined = node; n; n = n.parent) nodes.push(n);
  return nodes;
}

/** A state whose entering, leaving or resting does nothing but change the configuration. */
const quiet = (node: AnyStateNode): boolean =>
  node.entry.length === 0 && node.exit.length === 0 && node.invoke.length === 0 && !node.always?.length && node.type !== 'history' && node.type !== 'parallel';

const isWildcard = (descriptor: string): boolean => descriptor === '*' || descriptor.endsWith('.*');

function resolveGuard(machine: AnyStateNode['machine'], guard: unknown): Candidate['guard'] {
  if (guard === undefined) return null;
  const implementation = typeof guard === 'string' ? machine.implementations.guards[guard] : typeof guard === 'function' ? guard : XSTATE;
  if (typeof implementation !== 'function' || 'check' in implementation) return XSTATE;
  return implementation as Guard;
}

function resolveAction(machine: AnyStateNode['machine'], action: unknown): Action | typeof XSTATE {
  const implementation = typeof action === 'string' ? machine.implementations.actions[action] : typeof action === 'function' ? action : undefined;
  const builtin = implementation as { type?: string; assignment?: unknown; event?: unknown } | undefined;
  if (builtin?.type === 'xstate.assign') return { assign: builtin.assignment as Extract<Action, { assign: unknown }>['assign'] };
  if (builtin?.type === 'xstate.emit') return { emit: builtin.event as Extract<Action, { emit: unknown }>['emit'] };
  return XSTATE;
}

function plan(leaf: AnyStateNode, eventType: string): Candidate[] | typeof XSTATE {
  const from = lineage(leaf);
  // At rest here after a step: XState would look for eventless transitions, and find none.
  if (!from.every(quiet)) return XSTATE;
  const candidates: Candidate[] = [];
  for (const node of from) {
    if ([...node.transitions.keys()].some(isWildcard)) return XSTATE;
    for (const t of node.transitions.get(eventType) ?? []) {
      const guard = resolveGuard(node.machine, t.guard);
      const actions = t.actions.map((a) => resolveAction(node.machine, a));
      const target = t.target?.length ? t.target : null;
      const lean =
        actions.every((a): a is Action => a !== XSTATE) &&
        (target === null || (target.length === 1 && target[0]!.type === 'atomic' && lineage(target[0]!).every(quiet)));
      candidates.push({ guard, then: lean ? { actions, target: target?.[0] ?? null } : XSTATE });
    }
  }
  return candidates;
}

function planFor(leaf: AnyStateNode, eventType: string): Candidate[] | typeof XSTATE {
  let byEvent = plans.get(leaf);
  if (!byEvent) plans.set(leaf, (byEvent = new Map()));
  let found = byEvent.get(eventType);
  if (found === undefined) byEvent.set(eventType, (found = plan(leaf, eventType)));
  return found;
}

/** The one atomic (or final) state of a snapshot of a machine without parallel states. */
export function leafOf(snapshot: { readonly _nodes: readonly AnyStateNode[] }): AnyStateNode {
  const nodes = snapshot._nodes;
  for (let i = nodes.length - 1; i >= 0; i--) if (nodes[i]!.type === 'atomic' || nodes[i]!.type === 'final') return nodes[i]!;
  throw new Error('snapshot without an atomic state');
}

/**
 * Steps `snapshot` in place as XState would and appends what it emitted to `out`; false,
 * with nothing changed, where XState must take the step. `shapeOf` gives the shared value,
 * nodes and tags of an atomic state XState has already produced, or undefined.
 */
export function leanStep(
  snapshot: MutableSnapshot,
  event: EventObject,
  scope: ActionScope,
  out: unknown[],
  shapeOf: (leaf: AnyStateNode) => Shape | undefined,
): boolean {
  if (snapshot.status !== 'active') return false;
  const candidates = planFor(leafOf(snapshot), event.type);
  if (candidates === XSTATE) return false;
  const args: Args = { context: snapshot.context as Record<string, unknown>, event, spawn: noSpawn, self: scope.self, system: scope.system };
  for (const candidate of candidates) {
    if (candidate.guard === XSTATE) return false;
    if (candidate.guard !== null && !candidate.guard(args, undefined)) continue;
    const then = candidate.then;
    if (then === XSTATE) return false;
    const shape = then.target ? shapeOf(then.target) : undefined;
    if (then.target && !shape) return false;
    for (const action of then.actions) {
      if ('emit' in action) out.push(typeof action.emit === 'function' ? action.emit(args, undefined) : action.emit);
      else Object.assign(args.context, assignment(action.assign, args));
    }
    if (shape) {
      snapshot.value = shape.value;
      snapshot._nodes = shape._nodes;
      snapshot.tags = shape.tags;
    }
    return true;
  }
  return true; // no transition enabled: XState returns the snapshot unchanged
}

/** XState's `assign`: every property computed from the context before any is written. */
function assignment(assign: Extract<Action, { assign: unknown }>['assign'], args: Args): object {
  if (typeof assign === 'function') return assign(args, undefined);
  const update: Record<string, unknown> = {};
  for (const key of Object.keys(assign)) {
    const value = assign[key];
    update[key] = typeof value === 'function' ? (value as (a: Args, p: undefined) => unknown)(args, undefined) : value;
  }
  return update;
}
