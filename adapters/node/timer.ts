/**
 * The one process timer: a single setTimeout armed at `host.nextWake()`, however many
 * connections the host holds. The host's own timer queue decides who is due; this only
 * wakes the process at the earliest deadline and calls `host.tick`.
 */
import type { Host } from '../../runtime/index.ts';

/** The slice of the timer API we use, injectable so a test can count armed timers. */
export interface TimerApi {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ProcessTimerOptions {
  timers?: TimerApi;
  /** Let the process exit while only this timer is pending (the sockets keep it alive). Default true. */
  unref?: boolean;
  now?: () => number;
  /** A tick threw (a bug in a transport callback): report it instead of killing the process. */
  onError?: (error: unknown) => void;
}

// setTimeout stores its delay in a signed 32-bit int; longer delays fire at once.
const MAX_DELAY = 2 ** 31 - 1;

const nodeTimers: TimerApi = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};

/** The Host methods after which a deadline may have moved. */
const RESCHEDULING = ['open', 'receive', 'deliver', 'noteAnsweredPing', 'tick', 'close', 'peerClosed', 'restore'] as const;

export class ProcessTimer {
  readonly #host: Host;
  readonly #timers: TimerApi;
  readonly #unref: boolean;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  #handle: unknown = null;
  /** When the armed timer fires, or Infinity when none is armed. */
  #armedAt = Infinity;
  #stopped = false;
  /** Timers armed over this timer's life (a test's view of churn, not of concurrency). */
  armedTotal = 0;

  constructor(host: Host, options: ProcessTimerOptions = {}) {
    this.#host = host;
    this.#timers = options.timers ?? nodeTimers;
    this.#unref = options.unref ?? true;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? ((error) => console.error('keepalive timer:', error));
  }

  /**
   * Re-arms after every host call that can move a deadline. The shared Hono app calls
   * the host directly (open, receive, peerClosed), so wrapping the instance is the one
   * place that sees them all without each caller having to remember.
   */
  static wrap(host: Host, options: ProcessTimerOptions = {}): ProcessTimer {
    const timer = new ProcessTimer(host, options);
    for (const name of RESCHEDULING) {
      const original = host[name] as (...args: unknown[]) => unknown;
      const wrapped = (...args: unknown[]): unknown => {
        try {
          return original.apply(host, args);
        } finally {
          timer.arm();
        }
      };
      Object.defineProperty(host, name, { value: wrapped, configurable: true, writable: true });
    }
    return timer;
  }

  /** Makes sure a timer is armed no later than the host's next deadline. */
  arm(): void {
    if (this.#stopped) return;
    const wake = this.#host.nextWake();
    if (wake === null) return this.#disarm();
    // An earlier timer already covers this deadline: keep it; it re-arms when it fires.
    if (this.#handle !== null && this.#armedAt <= wake) return;
    this.#disarm();
    const delay = Math.min(Math.max(0, wake - this.#now()), MAX_DELAY);
    this.#armedAt = wake;
    this.armedTotal++;
    const handle = this.#timers.setTimeout(() => this.#fire(), delay);
    if (this.#unref) (handle as { unref?: () => void } | null)?.unref?.();
    this.#handle = handle;
  }

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

  #fire(): void {
    this.#handle = null;
    this.#armedAt = Infinity;
    try {
      // Through the (wrapped) host, so the next deadline is armed afterwards.
      this.#host.tick(this.#now());
    } catch (error) {
      this.#onError(error);
      this.arm();
    }
  }

  #disarm(): void {
    if (this.#handle === null) return;
    this.#timers.clearTimeout(this.#handle);
    this.#handle = null;
    this.#armedAt = Infinity;
  }
}
