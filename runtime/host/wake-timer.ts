/**
 * The one platform timer: a single `setTimeout` armed at the host's next deadline, however
 * many connections the host holds. The host's timer queue decides who is due; this only
 * wakes the process then and calls `host.tick`. `setTimeout` is the same on Node, Deno
 * and Workers, so every long-running adapter shares it (a Durable Object uses its alarm).
 *
 *   const timer = new WakeTimer({ wake: (at) => host.tick(at) });
 *   const host = new Host({ transport, onNextWake: timer.schedule });
 */

/** The slice of the timer API we use, injectable so a test can count armed timers. */
export interface TimerApi {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /**
   * Runs `callback` once the I/O already waiting has been read (`setImmediate` on Node, a
   * 0 ms timeout on Deno). The timer ticks the host from there: after a stall in a socket
   * handler the event loop runs overdue timers before it reads the sockets, so a PONG that
   * arrived during the stall, before the deadline, would otherwise be judged missing. Leave
   * it out to tick synchronously (fake timers in tests).
   */
  afterIo?(callback: () => void): void;
  /**
   * Runs `callback` once the loop had time to recover from a stall (default: `afterIo`).
   * A turn is not always enough: after a 450 ms stall Deno 2.9 ran two quick turns and V8's
   * collection (~20 ms) before it read a socket (test/deno/late-timer.test.ts), so the
   * platform timers pause here instead.
   */
  afterStall?(callback: () => void): void;
}

export interface WakeTimerOptions {
  /** Called when the armed deadline comes: tick the host here. */
  wake: (at: number) => void;
  timers?: TimerApi;
  /** Let the process exit while only this timer is pending (sockets keep a server alive). Default true. */
  unref?: boolean;
  now?: () => number;
  /** `wake` threw (a bug in a transport callback): report it instead of killing the process. */
  onError?: (error: unknown) => void;
}

// setTimeout stores its delay in a signed 32-bit int; longer delays fire at once.
const MAX_DELAY = 2 ** 31 - 1;
/**
 * A turn of the event loop longer than this held it (a busy handler or timer): I/O may have
 * arrived unread, so the tick waits for the next turn. Under sustained load the tick runs
 * anyway after MAX_EXTRA_TURNS more turns (lateness only delays a verdict, never causes one).
 */
const STALL_MS = 50;
const MAX_EXTRA_TURNS = 4;

/** The platform's own timers, as `WakeTimer` uses them unless given others (tests wrap these to count). */
export const PLATFORM_TIMERS: TimerApi = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
  afterIo: afterPendingIo(),
  // An idle pause lets the runtime park and poll its sockets; lateness only delays a verdict.
  afterStall: (callback) => void globalThis.setTimeout(callback, 25),
};

function afterPendingIo(): (callback: () => void) => void {
  // Deno's setImmediate runs before a socket message already waiting is delivered (a live
  // peer's PONG was judged missing, test/deno/late-timer.test.ts, Deno 2.9); a 0 ms timeout
  // runs after it. Node's setImmediate (its check phase) runs after the poll phase read it.
  if ('Deno' in globalThis || typeof globalThis.setImmediate !== 'function') {
    return (callback) => void globalThis.setTimeout(callback, 0);
  }
  return (callback) => void globalThis.setImmediate(callback);
}

export class WakeTimer {
  readonly #wake: (at: number) => void;
  readonly #timers: TimerApi;
  readonly #unref: boolean;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  #handle: unknown = null;
  /** Identifies the armed timer's callback: a stale or repeated callback is not ours to run. */
  #token: object | null = null;
  /** When the armed timer fires, or Infinity when none is armed. */
  #armedAt = Infinity;
  #stopped = false;
  /** Timers armed over this timer's life (a test's view of churn, not of concurrency). */
  armedTotal = 0;

  constructor(options: WakeTimerOptions) {
    this.#wake = options.wake;
    this.#timers = options.timers ?? PLATFORM_TIMERS;
    this.#unref = options.unref ?? true;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? ((error) => console.error('keepalive timer:', error));
  }

  /**
   * Makes sure a timer is armed no later than `at` (null: nothing to time). Bound, so it
   * can be passed as the host's `onNextWake`. A later deadline keeps an earlier timer:
   * it fires early, the host ticks nothing, and reports the deadline again.
   */
  readonly schedule = (at: number | null): void => {
    if (this.#stopped) return;
    if (at === null) return this.#disarm();
    if (this.#handle !== null && this.#armedAt <= at) return;
    this.#disarm();
    const delay = Math.min(Math.max(0, at - this.#now()), MAX_DELAY);
    this.#armedAt = at;
    this.armedTotal++;
    const token = {};
    this.#token = token;
    const handle = this.#timers.setTimeout(() => this.#fire(token), delay);
    if (this.#unref) (handle as { unref?: () => void } | null)?.unref?.();
    this.#handle = handle;
  };

  /** True while a timer is pending. */
  get armed(): boolean {
    return this.#handle !== null;
  }

  /** When the pending timer fires, or null. */
  get armedAt(): number | null {
    return this.#handle === null ? null : this.#armedAt;
  }

  stop(): void {
    this.#stopped = true;
    this.#disarm();
  }

  #fire(token: object): void {
    // A platform timer that calls back twice, or after it was replaced, would otherwise
    // forget the timer armed now and leave two running.
    if (token !== this.#token) return;
    const due = this.#armedAt;
    this.#token = null;
    this.#handle = null;
    this.#armedAt = Infinity;
    // Measured from when it was due: a timer that fired late had the loop held from it.
    if (this.#timers.afterIo) this.#afterIo(Math.min(due, this.#now()), 0);
    else this.#tick();
  }

  /**
   * Ticks after a turn of the event loop that read the waiting I/O and did not itself stall.
   * The timer may fire in the same turn as a socket handler that then holds the loop (its
   * poll had already collected the ready sockets): answers that arrived during that stall
   * are still unread when the deferred tick runs, so it waits one more turn (a few at most).
   */
  #afterIo(since: number, turns: number): void {
    const next = () => {
      const now = this.#now();
      if (now - since > STALL_MS && turns < MAX_EXTRA_TURNS) return this.#afterIo(now, turns + 1);
      this.#tick();
    };
    if (turns > 0 && this.#timers.afterStall) this.#timers.afterStall(next);
    else this.#timers.afterIo!(next);
  }

  #tick(): void {
    if (this.#stopped) return;
    try {
      this.#wake(this.#now());
    } catch (error) {
      this.#onError(error);
    }
  }

  #disarm(): void {
    if (this.#handle === null) return;
    this.#timers.clearTimeout(this.#handle);
    this.#handle = null;
    this.#token = null;
    this.#armedAt = Infinity;
  }
}
