/**
 * One statechart step from start to finish: run it, then settle it (store its snapshot per
 * the store's policy, wake the connection where the schedule says, report it to watchers),
 * then carry out what it emitted. A connection whose step ended it is forgotten here.
 */
import type { KeepaliveEvent } from '../../actors/keepalive.ts';
import type { ClockWatch } from './clock-watch.ts';
import type { Connection } from './connection.ts';
import type { Effects } from './effects.ts';
import type { HostListeners } from './listeners.ts';
import type { Schedule } from './schedule.ts';
import { ActorStepper, SnapshotStepper, type StepperStart } from './stepper.ts';
import type { ConnectionId } from './store.ts';
import type { HostStats, InspectObserver } from './types.ts';
import { stateName, viewOf } from './views.ts';
import type { SnapshotWrites } from './writes.ts';

export interface StepsParts {
  /** The live connections: a connection is added when it starts and removed when a step ends it. */
  connections: Map<ConnectionId, Connection>;
  schedule: Pick<Schedule, 'place' | 'forget'>;
  clock: Pick<ClockWatch, 'saw'>;
  writes: Pick<SnapshotWrites, 'stepped' | 'ended'>;
  effects: Pick<Effects, 'carryOut'>;
  listeners: HostListeners;
  stats: HostStats;
  /** XState's inspection observer: connections run as live actors, so its events are real. */
  inspect: InspectObserver | undefined;
}

export class Steps {
  readonly #connections: Map<ConnectionId, Connection>;
  readonly #schedule: StepsParts['schedule'];
  readonly #clock: StepsParts['clock'];
  readonly #writes: StepsParts['writes'];
  readonly #effects: StepsParts['effects'];
  readonly #listeners: HostListeners;
  readonly #stats: HostStats;
  readonly #inspect: InspectObserver | undefined;

  constructor(parts: StepsParts) {
    this.#connections = parts.connections;
    this.#schedule = parts.schedule;
    this.#clock = parts.clock;
    this.#writes = parts.writes;
    this.#effects = parts.effects;
    this.#listeners = parts.listeners;
    this.#stats = parts.stats;
    this.#inspect = parts.inspect;
  }

  /** The connection is still live (no step has ended it, nobody released it). */
  isOpen(conn: Connection): boolean {
    return this.#connections.has(conn.id);
  }

  /** Adds a connection and takes its statechart's first step (from its input, or its stored snapshot). */
  start(conn: Connection, start: StepperStart, at: number): void {
    this.#connections.set(conn.id, conn);
    this.#stats.steps++;
    // Live actors only where someone inspects: they cost ~5x the memory of a snapshot.
    conn.begin(this.#inspect ? new ActorStepper(conn.id, start, conn.effects, this.#inspect) : new SnapshotStepper(start, conn.effects));
    this.settle(conn, at, 'start', null);
  }

  step(conn: Connection, event: KeepaliveEvent): void {
    const from = this.#listeners.watched ? stateName(conn.stepper.snapshot.value) : null;
    this.#stats.steps++;
    conn.stepper.step(event, conn.effects);
    this.settle(conn, event.at, event.type, from);
  }

  /**
   * Folds the pending signs of life in as one `peer.message`; with `tick`, the tick at that
   * time rides in the same step (a PING due by then goes out stamped `tick`).
   */
  fold(conn: Connection, tick?: number): void {
    const event = conn.takePending(tick);
    if (event === null) return;
    this.#stats.foldedFrames += event.folded.pings + event.folded.pongs + event.folded.messages;
    this.step(conn, event);
  }

  /** `event` after whatever is pending, unless folding that ended the connection. */
  foldThenStep(conn: Connection, event: KeepaliveEvent): void {
    this.fold(conn);
    if (this.isOpen(conn)) this.step(conn, event);
  }

  // TypeScript's `private`, not a `#` method, on the hot path: see InboundFrames.frame.
  private settle(conn: Connection, at: number, event: KeepaliveEvent['type'] | 'start', from: string | null): void {
    const snapshot = conn.stepper.snapshot;
    conn.stepped();
    this.#clock.saw(snapshot.context.intervalStart);
    if (snapshot.status === 'active') {
      this.#schedule.place(conn);
      this.#writes.stepped(conn);
    } else {
      this.#connections.delete(conn.id);
      this.#schedule.forget(conn.id);
      this.#writes.ended(conn.id);
    }
    if (this.#listeners.watched) {
      const connection = viewOf(conn);
      this.#listeners.emit({ type: 'stepped', id: conn.id, at, event, from, state: connection.state, connection });
    }
    const effects = conn.effects.splice(0);
    for (const effect of effects) this.#effects.carryOut(conn, effect, at);
  }
}
