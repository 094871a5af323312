/**
 * The serverless timer (Deno Deploy): instead of a `setTimeout` that dies with the
 * isolate, the host's next deadline is a message in the Deno KV queue,
 * `kv.enqueue(wake, { delay })`, handled by `kv.listenQueue`.
 *
 * The queue delivers at least once and may deliver late, so at most one message counts:
 * - A message is enqueued only when the host's earliest deadline moves earlier than the
 *   one already armed. A later deadline needs nothing: the armed message wakes the host,
 *   which ticks and reports its next deadline again.
 * - Each message carries a fresh nonce; only the armed one ticks. The rest are stale
 *   (superseded by an earlier deadline, a repeated delivery of one already handled, or
 *   left in the queue by a previous process) and are dropped without a tick.
 * - The armed message is disarmed synchronously before the tick, so a repeated delivery
 *   arriving right behind it finds a different nonce.
 * A tick is harmless anyway (the host runs only what is due, the statechart ignores an
 * early tick), so the nonce keeps the queue from multiplying, it is not what keeps the
 * connections right.
 */

export interface WakeMessage {
  type: 'keepalive.wake';
  /** The deadline this message was enqueued for, ms. */
  at: number;
  nonce: string;
}

export interface QueueTimerOptions {
  kv: Deno.Kv;
  /** Called when the armed message arrives: tick the host here. */
  wake: (at: number) => void;
  now?: () => number;
  onError?: (error: unknown) => void;
  /** After a failed enqueue, try again this many ms later. Default 1000. */
  retryMs?: number;
}

export interface QueueTimerStats {
  enqueued: number;
  /** Deliveries that ticked the host. */
  delivered: number;
  /** Deliveries dropped: superseded, repeated, or from a previous process. */
  stale: number;
}

export function isWakeMessage(value: unknown): value is WakeMessage {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as Partial<WakeMessage>;
  return message.type === 'keepalive.wake' && typeof message.at === 'number' && typeof message.nonce === 'string';
}

export class QueueTimer {
  readonly stats: QueueTimerStats = { enqueued: 0, delivered: 0, stale: 0 };
  readonly #kv: Deno.Kv;
  readonly #wake: (at: number) => void;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  readonly #retryMs: number;
  #armed: { at: number; nonce: string } | null = null;
  /** The host's latest reported deadline, for a retry after a failed enqueue. */
  #wanted: number | null = null;
  #retry: ReturnType<typeof setTimeout> | null = null;
  readonly #inflight = new Set<Promise<void>>();
  #stopped = false;

  constructor(options: QueueTimerOptions) {
    this.#kv = options.kv;
    this.#wake = options.wake;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? ((error) => console.error('keepalive queue timer:', error));
    this.#retryMs = options.retryMs ?? 1000;
  }

  /** The deadline the armed message is for, or null. */
  get armedAt(): number | null {
    return this.#armed?.at ?? null;
  }

  /**
   * Starts handling this KV's queue (one listener per `Deno.Kv`). Messages that are not
   * ours are ignored. The promise settles when the KV is closed.
   */
  listen(): Promise<void> {
    return this.#kv.listenQueue((message: unknown) => void this.deliver(message));
  }

  /** The host's `onNextWake`: makes sure a message is armed no later than `at`. */
  readonly schedule = (at: number | null): void => {
    this.#wanted = at;
    if (this.#stopped || at === null) return;
    if (this.#armed !== null && this.#armed.at <= at) return;
    const message: WakeMessage = { type: 'keepalive.wake', at, nonce: crypto.randomUUID() };
    this.#armed = { at, nonce: message.nonce };
    this.stats.enqueued++;
    const delay = Math.max(0, Math.ceil(at - this.#now()));
    const write: Promise<void> = this.#kv
      .enqueue(message, { delay })
      .then(
        () => {},
        (error: unknown) => this.#enqueueFailed(message, error),
      )
      .finally(() => this.#inflight.delete(write));
    this.#inflight.add(write);
  };

  /** Handles one delivery; true when it was the armed message and the host ticked. */
  deliver(message: unknown): boolean {
    if (!isWakeMessage(message)) return false;
    if (this.#stopped || this.#armed?.nonce !== message.nonce) {
      this.stats.stale++;
      return false;
    }
    this.#armed = null;
    this.stats.delivered++;
    try {
      // The host reports its next deadline from inside the tick, which arms the next message.
      this.#wake(this.#now());
    } catch (error) {
      this.#onError(error);
    }
    return true;
  }

  /** Waits until every enqueue in flight is in the queue (or failed): before closing the KV. */
  async flush(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all([...this.#inflight]);
  }

  /** Arms nothing more; messages already queued arrive stale. */
  stop(): void {
    this.#stopped = true;
    this.#armed = null;
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
  }

  #enqueueFailed(message: WakeMessage, error: unknown): void {
    this.#onError(error);
    if (this.#armed?.nonce !== message.nonce) return;
    this.#armed = null;
    if (this.#stopped || this.#retry !== null) return;
    // Nothing is in flight now; without a retry the host would never be woken again.
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.schedule(this.#wanted);
    }, this.#retryMs);
  }
}
