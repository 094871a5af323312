/**
 * Two ways to run one connection's statechart, chosen by the host:
 *
 * - `SnapshotStepper` (default): the connection is just its XState snapshot (~0.8 KiB
 *   against ~3.9 KiB for a live actor, measured with 20,000 connections), kept in place
 *   from step to step (below). The steps a connection takes at rest (signs of life,
 *   PINGs) run through `leanStep` (lean-transition.ts), the same machine without XState's
 *   per-step snapshots: about 0.6 KB allocated per step against 8 KB. The rest (the first
 *   step, verdicts, closing) go through the machine's own
 *   `transition(snapshot, event, scope)` with one scope shared by the whole host; XState's
 *   exported `transition()` would build a throwaway actor on every call.
 * - `ActorStepper`: a live actor, so an inspector attached to the host sees XState's own
 *   inspection events (actor created, each event, each snapshot).
 *
 * Both run the same machine with the same actions; tests run hosts of both kinds side
 * by side and compare every frame and snapshot.
 */
import { type ActorOptions, createActor, type ExecutableActionObject, type InspectionEvent, type Observer, type Snapshot } from 'xstate';
import { leafOf, leanStep, type MutableSnapshot, type Shape } from './lean-transition.ts';
import {
  keepaliveMachine,
  type KeepaliveEmitted,
  type KeepaliveEvent,
  type KeepaliveInput,
  type KeepaliveSnapshot,
} from '../../actors/keepalive.ts';

export interface Stepper {
  readonly snapshot: KeepaliveSnapshot;
  /** Applies `event`; what the machine emitted is appended to `out`. */
  step(event: KeepaliveEvent, out: KeepaliveEmitted[]): void;
  persisted(): Snapshot<unknown>;
}

export type StepperStart = { input: KeepaliveInput } | { snapshot: Snapshot<unknown> };

/** Exactly the scope the machine's own `transition` takes. */
type Scope = Parameters<typeof keepaliveMachine.transition>[2];

/** The effects a step asked for, collected by the shared scope instead of executed. */
const pending: ExecutableActionObject[] = [];
let sharedScope: Scope | undefined;

function scope(): Scope {
  return (sharedScope ??= createScope());
}

function createScope(): Scope {
  // Never started: it only lends its system and ids to the scope. The machine has no
  // children, delays or invocations, so nothing ever reaches them.
  const inert = createActor(keepaliveMachine, { input: { role: 'server', interval: 1, count: 0, sendPings: false, at: 0 } });
  return {
    self: inert as unknown as Scope['self'],
    id: inert.id,
    sessionId: inert.sessionId,
    logger: console.log,
    defer: (fn) => fn(),
    emit: () => {},
    system: inert.system,
    stopChild: () => {},
    actionExecutor: (action) => {
      pending.push(action);
    },
  };
}

function collect(out: KeepaliveEmitted[]): void {
  for (const action of pending) {
    if (action.type === 'xstate.emit') out.push((action.params as { event: KeepaliveEmitted }).event);
  }
  pending.length = 0;
}

/** What a snapshot shares with every other in the same states, interned per atomic state. */
const shapes = new Map<object, Shape>();
const knownShape = (leaf: object): Shape | undefined => shapes.get(leaf);
/** Children and history this machine never has (no invocations, no history states). */
const NO_CHILDREN = Object.freeze({}) as KeepaliveSnapshot['children'];
const NO_HISTORY = Object.freeze({}) as KeepaliveSnapshot['historyValue'];

function shapeOf(snapshot: KeepaliveSnapshot): Shape {
  const leaf = leafOf(snapshot);
  let shape = shapes.get(leaf);
  if (!shape) shapes.set(leaf, (shape = { value: snapshot.value, _nodes: snapshot._nodes, tags: snapshot.tags }));
  return shape;
}

const isEmpty = (o: object) => {
  for (const _ in o) return false;
  return true;
};

/**
 * The state of one connection: a snapshot object of its own, updated in place after each
 * step. Everything XState builds in a step (the next snapshot, its context, value, tags)
 * dies young, in the scavenger's nursery; what lives from one interval to the next is this
 * object, its context and shapes shared by every connection in the same state. A step's
 * snapshot kept as is would live a whole interval, long enough to be promoted, and the old
 * generation would fill with them between full collections (figure 9's RSS climb).
 */
export class SnapshotStepper implements Stepper {
  readonly snapshot: KeepaliveSnapshot;

  constructor(start: StepperStart, out: KeepaliveEmitted[]) {
    pending.length = 0;
    const first =
      'input' in start
        ? keepaliveMachine.getInitialSnapshot(scope(), start.input)
        : keepaliveMachine.restoreSnapshot(start.snapshot as Parameters<typeof keepaliveMachine.restoreSnapshot>[0], scope());
    collect(out);
    this.snapshot = { ...first, context: { ...first.context } };
    adopt(this.snapshot, first);
  }

  step(event: KeepaliveEvent, out: KeepaliveEmitted[]): void {
    if (leanStep(this.snapshot as MutableSnapshot, event, scope(), out, knownShape)) return;
    pending.length = 0;
    const next = keepaliveMachine.transition(this.snapshot, event, scope());
    collect(out);
    if (next !== this.snapshot) adopt(this.snapshot, next);
  }

  /** A copy: the context here changes in place, a stored record must not. */
  persisted(): Snapshot<unknown> {
    const persisted = keepaliveMachine.getPersistedSnapshot(this.snapshot) as Snapshot<unknown> & { context: object };
    const copy: Snapshot<unknown> & { context: object } = { ...persisted, context: { ...persisted.context } };
    return copy;
  }
}

/** Writes `next` into the connection's own snapshot, without keeping anything the step allocated. */
function adopt(into: KeepaliveSnapshot, next: KeepaliveSnapshot): void {
  const shape = shapeOf(next);
  const target = into as { -readonly [K in keyof KeepaliveSnapshot]: KeepaliveSnapshot[K] };
  target.status = next.status;
  target.output = next.output;
  target.error = next.error;
  target.value = shape.value;
  target._nodes = shape._nodes;
  target.tags = shape.tags;
  target.children = isEmpty(next.children) ? NO_CHILDREN : next.children;
  target.historyValue = isEmpty(next.historyValue) ? NO_HISTORY : next.historyValue;
  if (next.context !== into.context) Object.assign(into.context, next.context);
}

export class ActorStepper implements Stepper {
  readonly #actor;

  constructor(id: string, start: StepperStart, out: KeepaliveEmitted[], inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void)) {
    // XState's types ask for `input` even when a restored actor ignores it.
    const options = { id, inspect, ...start } as ActorOptions<typeof keepaliveMachine> & { input: KeepaliveInput };
    this.#actor = createActor(keepaliveMachine, options);
    this.#actor.on('*', (emitted) => out.push(emitted));
    this.#actor.start();
  }

  get snapshot(): KeepaliveSnapshot {
    return this.#actor.getSnapshot();
  }

  step(event: KeepaliveEvent): void {
    this.#actor.send(event);
  }

  persisted(): Snapshot<unknown> {
    return this.#actor.getPersistedSnapshot();
  }
}
