/**
 * Figure 4, second half: statechart steps per second by three ways of stepping the same
 * machine through the same events, over many connections round-robin (as a host does):
 * the host's `SnapshotStepper` (bare snapshot, one shared scope), a live actor's `send`,
 * and XState's exported pure `transition()`.
 *
 * Each connection alternates a folded sign of life and a due tick (which sends a PING),
 * so every event is a real transition.
 */
import { createActor, transition, type AnyActorRef } from 'xstate';
import { keepaliveMachine, type KeepaliveEmitted, type KeepaliveEvent, type KeepaliveInput, type KeepaliveSnapshot } from '../../actors/keepalive.ts';
import { SnapshotStepper } from '../../runtime/host/stepper.ts';
import { timed, type Elapsed } from '../lib/clock.ts';

export const STEPPERS = ['snapshot-stepper', 'actor-send', 'pure-transition'] as const;
export type StepperKind = (typeof STEPPERS)[number];

const INTERVAL = 1000;
const input = (i: number): KeepaliveInput => ({ role: 'server', interval: INTERVAL, count: 5, sendPings: true, at: i, awaitAdvertise: false });

interface Stepping {
  step(i: number, event: KeepaliveEvent): void;
}

function stepping(kind: StepperKind, connections: number): Stepping {
  const out: KeepaliveEmitted[] = [];
  if (kind === 'snapshot-stepper') {
    const steppers = Array.from({ length: connections }, (_, i) => new SnapshotStepper({ input: input(i) }, out));
    return {
      step(i, event) {
        steppers[i]!.step(event, out);
        out.length = 0;
      },
    };
  }
  if (kind === 'actor-send') {
    const actors: AnyActorRef[] = Array.from({ length: connections }, (_, i) => {
      const actor = createActor(keepaliveMachine, { input: input(i) });
      actor.on('*', (emitted) => out.push(emitted as KeepaliveEmitted));
      return actor.start();
    });
    return {
      step(i, event) {
        actors[i]!.send(event);
        out.length = 0;
      },
    };
  }
  const snapshots: KeepaliveSnapshot[] = Array.from({ length: connections }, (_, i) => createActor(keepaliveMachine, { input: input(i) }).getSnapshot());
  return {
    step(i, event) {
      const [next, actions] = transition(keepaliveMachine, snapshots[i]!, event);
      snapshots[i] = next;
      for (const action of actions as readonly { type: string; params?: unknown }[]) if (action.type === 'xstate.emit') out.push((action.params as { event: KeepaliveEmitted }).event);
      out.length = 0;
    },
  };
}

/** A stepping rig; each `run(events)` continues where the last stopped. */
export function stepRig(kind: StepperKind, connections: number): { run(events: number): Elapsed } {
  const rig = stepping(kind, connections);
  const cursor = Array.from({ length: connections }, (_, i) => i + 1);
  let n = 0;
  return {
    run(events) {
      return timed(() => {
        for (let e = 0; e < events; e++, n++) {
          const i = n % connections;
          const round = (n / connections) | 0;
          if (round % 2 === 0) {
            rig.step(i, { type: 'peer.message', at: cursor[i]!, folded: { pongs: 1 } });
          } else {
            rig.step(i, { type: 'tick', at: cursor[i]! + INTERVAL });
            cursor[i]! += INTERVAL + 1;
          }
        }
      });
    },
  };
}
