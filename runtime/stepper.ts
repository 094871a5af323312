/**
 * Two ways to run one connection's statechart, chosen by the host:
 *
 * - `SnapshotStepper` (default): the connection is just its XState snapshot (~0.8 KiB
 *   against ~3.9 KiB for a live actor, measured with 20,000 connections), stepped with
 *   the machine's own `transition(snapshot, event, scope)`. XState's exported
 *   `transition()` builds a throwaway actor on every call (about 41,000 steps/s here);
 *   one scope shared by the whole host steps about 240,000/s, close to `actor.send`.
 * - `ActorStepper`: a live actor, so an inspector attached to the host sees XState's own
 *   inspection events (actor created, each event, each snapshot).
 *
 * Both run the same machine with the same actions; tests run hosts of both kinds side
 * by side and compare every frame and snapshot.
 */
import { createActor } from 'xstate';
import type { ActorOptions, ExecutableActionObject, InspectionEvent, Observer, Snapshot } from 'xstate';
import {
  keepaliveMachine,
  type KeepaliveEmitted,
  type KeepaliveEvent,
  type KeepaliveInput,
  type KeepaliveSnapshot,
} from '../actors/keepalive.ts';

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

export class SnapshotStepper implements Stepper {
  snapshot: KeepaliveSnapshot;

  constructor(start: StepperStart, out: KeepaliveEmitted[]) {
    pending.length = 0;
    this.snapshot =
      'input' in start
        ? keepaliveMachine.getInitialSnapshot(scope(), start.input)
        : keepaliveMachine.restoreSnapshot(start.snapshot as Parameters<typeof keepaliveMachine.restoreSnapshot>[0], scope());
    collect(out);
  }

  step(event: KeepaliveEvent, out: KeepaliveEmitted[]): void {
    pending.length = 0;
    this.snapshot = keepaliveMachine.transition(this.snapshot, event, scope());
    collect(out);
  }

  persisted(): Snapshot<unknown> {
    return keepaliveMachine.getPersistedSnapshot(this.snapshot);
  }
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
