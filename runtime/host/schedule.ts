/**
 * When each connection is woken: one timer queue for all of them (the host arms a single
 * platform timer at its earliest deadline), and the PING window (`HostOptions.pingWindow`)
 * within which a PING may leave early or late. Where a connection's next PING falls once
 * its pending signs of life are folded is computed here and nowhere else.
 */
import { pingsAfterSignOfLife, pingsOnNextTick } from '../../actors/keepalive.ts';
import type { Connection } from './connection.ts';
import type { HostListeners } from './listeners.ts';
import type { ConnectionId } from './store.ts';
import { TimerQueue } from './timer-queue.ts';
import type { PingWindow } from './types.ts';

export class Schedule {
  /** ms a PING may leave before its due time (capped per connection, `windowOf`). */
  readonly early: number;
  /** ms a PING may leave after its due time. */
  readonly late: number;
  readonly #queue = new TimerQueue<ConnectionId>();
  /** Snapshots are stored after each step: a connection may not go an interval unstepped. */
  readonly #savesEachStep: boolean;
  readonly #listeners: Pick<HostListeners, 'watched'>;
  readonly #onNextWake: ((at: number | null) => void) | undefined;
  #reported: number | null | undefined;

  constructor(window: PingWindow, savesEachStep: boolean, listeners: Pick<HostListeners, 'watched'>, onNextWake: ((at: number | null) => void) | undefined) {
    this.early = window.early;
    this.late = window.late;
    this.#savesEachStep = savesEachStep;
    this.#listeners = listeners;
    this.#onNextWake = onNextWake;
  }

  get windowed(): boolean {
    return this.early > 0 || this.late > 0;
  }

  /** Folding this connection's pending signs of life puts its next PING an interval after the latest (and nobody steps every frame). */
  foldsIntoPing(conn: Connection): boolean {
    return !conn.eager && !this.#listeners.watched && pingsAfterSignOfLife(conn.stepper.snapshot);
  }

  /**
   * Next PING = last sign of life + interval: where the machine puts it once the pending
   * signs of life are folded in (a sign of life re-anchors the interval at its time), so
   * the host knows it without a step. Only meaningful where `foldsIntoPing`.
   */
  pingAfterFold(conn: Connection): number {
    return conn.pendingAt + conn.interval;
  }

  /**
   * The time a PING due at `due` is stamped with if a tick at `at` sends it, or null if it
   * is not yet due within the window. The stamp is the due time (the window's edge when the
   * host woke later than that), so the machine anchors the next interval where it would
   * have anyway.
   */
  pingStamp(conn: Connection, due: number, at: number): number | null {
    return due <= at + this.windowOf(conn, this.early) ? Math.max(due, at - this.windowOf(conn, this.late)) : null;
  }

  /** The queue wakes a connection here: a PING may wait out the window, a death or ADVERTISE deadline may not. */
  place(conn: Connection): void {
    this.#queue.set(conn.id, this.wakeFor(conn));
  }

  /** Wakes `id` at `at` (null: never), as a tick decided. */
  wake(id: ConnectionId, at: number | null): void {
    this.#queue.set(id, at);
  }

  forget(id: ConnectionId): void {
    this.#queue.delete(id);
  }

  /** The earliest connection due at or before `at`, taken off the queue; undefined when none is. */
  popDue(at: number): ConnectionId | undefined {
    return this.#queue.popDue(at);
  }

  /** Earliest time any connection needs a tick, or null. */
  next(): number | null {
    return this.#queue.peek();
  }

  /** Tells the platform timer (`onNextWake`) where to wake next, when that moved or `always`. */
  report(always = false): void {
    if (!this.#onNextWake) return;
    const next = this.#queue.peek();
    if (!always && next === this.#reported) return;
    this.#reported = next;
    this.#onNextWake(next);
  }

  // TypeScript's `private`, not `#` methods, on the hot path: see InboundFrames.frame.
  /** One side of the window as a connection gets it: at most a quarter of its interval, so a PING sent early or late is never due again in the same tick. */
  private windowOf(conn: Connection, side: number): number {
    return Math.min(side, conn.interval / 4);
  }

  private wakeFor(conn: Connection): number | null {
    if (conn.hasPending && !this.#savesEachStep && this.foldsIntoPing(conn)) return this.pingAfterFold(conn) + this.windowOf(conn, this.late);
    const snapshot = conn.stepper.snapshot;
    const wakeAt = snapshot.context.wakeAt;
    if (wakeAt === null || this.late === 0 || !pingsOnNextTick(snapshot)) return wakeAt;
    return wakeAt + this.windowOf(conn, this.late);
  }
}
