/**
 * What a tick decides, for each connection the schedule says is due: a PING due within the
 * window goes out now, folded with any pending signs of life into one step; a connection
 * whose pending signs of life only push its next PING later waits for it unstepped; a
 * verdict or an ADVERTISE deadline that has come is stepped; anything else goes back in
 * the queue. A tick earlier than a time already seen is a backward clock step.
 */
import { beforeInterval, pingsOnNextTick } from '../../actors/keepalive.ts';
import type { ClockWatch } from './clock-watch.ts';
import type { Connection } from './connection.ts';
import type { Schedule } from './schedule.ts';
import type { Steps } from './steps.ts';
import type { ConnectionId } from './store.ts';

export interface TickerParts {
  connections: ReadonlyMap<ConnectionId, Connection>;
  schedule: Schedule;
  clock: ClockWatch;
  steps: Pick<Steps, 'isOpen' | 'step' | 'fold'>;
  /** Snapshots are stored after each step: a connection's stored one must stay within an interval, so none waits unstepped. */
  savesEachStep: boolean;
}

export class Ticker {
  readonly #connections: ReadonlyMap<ConnectionId, Connection>;
  readonly #schedule: Schedule;
  readonly #clock: ClockWatch;
  readonly #steps: TickerParts['steps'];
  readonly #savesEachStep: boolean;

  constructor(parts: TickerParts) {
    this.#connections = parts.connections;
    this.#schedule = parts.schedule;
    this.#clock = parts.clock;
    this.#steps = parts.steps;
    this.#savesEachStep = parts.savesEachStep;
  }

  /** Runs every connection due at `at` (or, with a window, whose PING may leave by then); touches nothing else. */
  tick(at: number): void {
    if (this.#clock.wentBack(at)) this.#clockStepBack(at);
    const schedule = this.#schedule;
    const windowed = schedule.windowed;
    // A PING due within `early` ahead is queued at most `early + late` ahead (its deadline plus `late`).
    const horizon = at + schedule.early + schedule.late;
    // Popped to look, but nothing to do yet: back in the queue after the loop, not popped twice.
    let later: Connection[] | undefined;
    let id: ConnectionId | undefined;
    while ((id = schedule.popDue(horizon)) !== undefined) {
      const conn = this.#connections.get(id);
      if (!conn) {
        schedule.forget(id); // its parked entry too
        continue;
      }
      if (conn.hasPending && schedule.foldsIntoPing(conn)) {
        // Where the fold leaves the next PING is known: fold and PING in one step when that
        // is due, else wait for it unstepped, unless snapshots are written per step.
        const due = schedule.pingAfterFold(conn);
        const stamp = schedule.pingStamp(conn, due, at);
        if (stamp !== null) {
          this.pingAt(conn, stamp, at);
          continue;
        }
        if (!this.#savesEachStep) {
          if (!windowed) schedule.wake(id, due);
          else (later ??= []).push(conn);
          continue;
        }
      }
      this.#steps.fold(conn);
      if (!this.#steps.isOpen(conn)) continue;
      const wakeAt = conn.stepper.snapshot.context.wakeAt;
      if (!windowed) {
        if (wakeAt !== null && wakeAt <= at) this.#steps.step(conn, { type: 'tick', at });
        else schedule.wake(id, wakeAt);
        continue;
      }
      if (wakeAt === null) {
        schedule.wake(id, null);
        continue;
      }
      const stamp = schedule.pingStamp(conn, wakeAt, at);
      if (stamp !== null && pingsOnNextTick(conn.stepper.snapshot)) this.pingAt(conn, stamp, at);
      else if (wakeAt <= at) this.#steps.step(conn, { type: 'tick', at });
      else (later ??= []).push(conn);
    }
    if (later) for (const conn of later) schedule.place(conn);
  }

  /**
   * A PING sent now (`at`) but stamped `stamp`, its due time (or the window's edge): the
   * machine anchors the next interval where it would have anyway. A stamp in the future
   * must not count as a time the host has seen (a later tick would look like a clock step
   * back); a peer's answer that comes before the stamp is stepped at once (`deliver`).
   * Signs of life still pending ride in the same step. (TypeScript's `private`, not a `#`
   * method, on the hot path: see InboundFrames.frame.)
   */
  private pingAt(conn: Connection, stamp: number, at: number): void {
    const latest = this.#clock.latest;
    if (conn.hasPending) this.#steps.fold(conn, stamp);
    else this.#steps.step(conn, { type: 'tick', at: stamp });
    this.#clock.resetTo(Math.max(latest, at));
  }

  /**
   * Deadlines set on the old clock lie up to the step too far ahead; the queue would sleep
   * through them. O(connections), but only when the clock goes back.
   */
  #clockStepBack(at: number): void {
    this.#clock.resetTo(at);
    for (const conn of [...this.#connections.values()]) {
      this.#steps.fold(conn);
      if (!this.#steps.isOpen(conn)) continue;
      const context = conn.stepper.snapshot.context;
      if (context.wakeAt !== null && beforeInterval(context, at)) this.#steps.step(conn, { type: 'tick', at });
    }
  }
}
