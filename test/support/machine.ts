/** Steps the keepalive machine with XState's pure functions and collects what it emits. */
import { initialTransition, transition } from 'xstate';
import { keepaliveMachine, type KeepaliveEmitted, type KeepaliveEvent, type KeepaliveInput, type KeepaliveSnapshot } from '../../actors/keepalive.ts';

export function emittedBy(actions: readonly { type: string; params?: unknown }[]): KeepaliveEmitted[] {
  return actions
    .filter((action) => action.type === 'xstate.emit')
    .map((action) => (action.params as { event: KeepaliveEmitted }).event);
}

export class Stepper {
  snapshot: KeepaliveSnapshot;
  readonly emitted: KeepaliveEmitted[] = [];

  constructor(input: KeepaliveInput) {
    const [snapshot, actions] = initialTransition(keepaliveMachine, input);
    this.snapshot = snapshot;
    this.emitted.push(...emittedBy(actions));
  }

  send(event: KeepaliveEvent): KeepaliveEmitted[] {
    const [snapshot, actions] = transition(keepaliveMachine, this.snapshot, event);
    this.snapshot = snapshot;
    const out = emittedBy(actions);
    this.emitted.push(...out);
    return out;
  }

  /** Ticks at every wakeAt until `until` or until the machine stops asking. */
  runUntil(until: number): void {
    for (;;) {
      const wakeAt = this.snapshot.context.wakeAt;
      if (wakeAt === null || wakeAt > until || this.snapshot.status !== 'active') return;
      this.send({ type: 'tick', at: wakeAt });
    }
  }

  get state(): string {
    return JSON.stringify(this.snapshot.value);
  }

  sends(): string[] {
    return this.emitted.flatMap((e) => (e.type === 'send' ? [e.message] : []));
  }
}
