/**
 * At-least-once delivery of application events to hooks and to the webhook. An event is
 * written to the `EventStore` before anyone is told, and leaves it only once everyone it is
 * owed to has it: a crash in between delivers it again after the restart, under the same id.
 *
 * - Hooks of one connection run one after the other, in recording order (onOpen, onDead,
 *   onClose); different connections do not wait for each other. A hook that throws has run:
 *   the error is reported, the event is not retried.
 * - The webhook gets events one at a time in recording order; a failed try is retried with
 *   backoff before the next event goes (a receiver sees `dead` before `closed`).
 * - Retries wait for `schedule(at)`: the server's own timer, or a Durable Object's alarm.
 */
import type { ConnectionId } from '../host/index.ts';
import { isOutboxRecord, type ApplicationEvent, type Delivery, type EventStore, type OutboxRecord } from './events.ts';
import type { WebhookSender } from './webhook.ts';

export interface OutboxOptions {
  store: EventStore;
  webhook?: WebhookSender | undefined;
  /** Runs the hooks an event is owed to; resolves when they settled. */
  runHooks: (event: ApplicationEvent) => Promise<void>;
  /** Which events hooks are owed at all (no hook for that type: nothing owed). */
  hooksWant: (type: ApplicationEvent['type']) => boolean;
  /** Arm a wake-up at this time (null: none needed); call `wake()` then. */
  schedule: (at: number | null) => void;
  now: () => number;
  report: (line: string) => void;
  /**
   * While hooks are owed, also ask for a wake-up this many ms ahead: a platform that may
   * evict the instance running them (a Durable Object) is then rebuilt and runs them again.
   * Default: none (a process that dies restarts and loads them anyway).
   */
  hookRecheck?: number;
}

export class Outbox {
  readonly #options: OutboxOptions;
  readonly #records = new Map<string, OutboxRecord>();
  /** Records owing the webhook, in recording order. */
  #webhookQueue: OutboxRecord[] = [];
  readonly #chains = new Map<ConnectionId, Promise<void>>();
  readonly #writes = new Set<Promise<void>>();
  #seq = 0;
  #started = false;
  #hooksOwed = 0;
  #sending = false;
  #stopped = false;
  /** Webhook deliveries that succeeded, and failed tries (for tests and logs). */
  readonly counts = { delivered: 0, failed: 0, hooks: 0 };

  constructor(options: OutboxOptions) {
    this.#options = options;
  }

  /** Events still owed to someone. */
  get pending(): number {
    return this.#records.size;
  }

  /** Every event still owed, as stored (a clustered hub writes them again after Redis lost them). */
  owed(): OutboxRecord[] {
    return [...this.#records.values()];
  }

  /**
   * Takes back what a previous process (or instance) left undelivered; nothing is
   * delivered before `start`. Returns the records taken back.
   */
  async load(): Promise<OutboxRecord[]> {
    const loaded = [...(await this.#options.store.load())].filter(isOutboxRecord).sort((a, b) => a.seq - b.seq);
    const resumed: OutboxRecord[] = [];
    for (const record of loaded) {
      if (this.#records.has(record.event.id)) continue;
      this.#seq = Math.max(this.#seq, record.seq);
      // A webhook no longer configured is owed nothing.
      if (!this.#options.webhook) record.owed = record.owed.filter((owed) => owed !== 'webhook');
      if (record.owed.length === 0) {
        this.#write(this.#options.store.delete(record.event.id));
        continue;
      }
      resumed.push(record);
      this.#track(record);
    }
    return resumed;
  }

  /**
   * Starts delivering: what was loaded, and whatever was recorded meanwhile (a server
   * records the verdicts of its restore between `load` and `start`, and a recorded id
   * that was taken back keeps the original event).
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const record of [...this.#records.values()].sort((a, b) => a.seq - b.seq)) if (record.owed.includes('hooks')) this.#runHooks(record);
    this.#pump();
  }

  /**
   * Records an event and starts delivering it. Recording the same id again while owed
   * changes nothing. Returns the store's write while it is in flight (asynchronous stores).
   */
  record(event: ApplicationEvent): Promise<void> | undefined {
    if (this.#records.has(event.id)) return undefined;
    const owed: Delivery[] = [];
    if (this.#options.hooksWant(event.type)) owed.push('hooks');
    if (this.#options.webhook) owed.push('webhook');
    if (owed.length === 0) return undefined;
    const record: OutboxRecord = { event, seq: ++this.#seq, owed, attempts: 0, retryAt: 0 };
    const write = this.#options.store.put(record);
    this.#write(write);
    this.#track(record);
    this.#pump();
    return write ?? undefined;
  }

  /** The armed wake-up came: retry what is due. */
  wake(): void {
    this.#pump();
  }

  /** When the next webhook retry is due, or null. */
  nextRetry(): number | null {
    const head = this.#webhookQueue[0];
    return head === undefined || this.#sending ? null : head.retryAt;
  }

  /** Waits (up to `ms`) for hooks and webhook tries in flight, and for every store write. */
  async drain(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    const settled = (async () => {
      while (this.#chains.size > 0 || this.#writes.size > 0 || this.#sending) {
        const pending = [...this.#chains.values(), ...this.#writes];
        // Only a webhook try in flight: nothing to wait on but time (an empty Promise.all
        // would settle at once, and this loop would never let the try finish).
        const tick = new Promise((resolve) => setTimeout(resolve, 10));
        await (pending.length > 0 ? Promise.race([Promise.all(pending), tick]) : tick);
      }
    })();
    await Promise.race([settled, late]).finally(() => timer !== undefined && clearTimeout(timer));
  }

  /** No more tries from this instance (a server shutting down); what is owed stays in the store. */
  stop(): void {
    this.#stopped = true;
    this.#options.schedule(null);
  }

  #track(record: OutboxRecord): void {
    this.#records.set(record.event.id, record);
    if (record.owed.includes('webhook')) this.#webhookQueue.push(record);
    if (record.owed.includes('hooks')) {
      this.#hooksOwed++;
      if (this.#started) this.#runHooks(record);
    }
  }

  #runHooks(record: OutboxRecord): void {
    const connection = record.event.connection;
    const previous = this.#chains.get(connection) ?? Promise.resolve();
    const chain = previous
      .then(() => (this.#stopped ? undefined : this.#options.runHooks(record.event)))
      .then(() => {
        if (this.#stopped) return;
        this.counts.hooks++;
        this.#settle(record, 'hooks');
      })
      // The store may be gone (an instance evicted mid-hook): the next one delivers again.
      .catch((error: unknown) => this.#options.report(`hooks for ${record.event.id}: ${String(error)}`))
      .finally(() => {
        if (this.#chains.get(connection) === chain) this.#chains.delete(connection);
      });
    this.#chains.set(connection, chain);
  }

  #pump(): void {
    if (this.#stopped || !this.#started) return;
    if (this.#sending) return this.#arm(null);
    const head = this.#webhookQueue[0];
    const now = this.#options.now();
    const webhook = this.#options.webhook;
    if (head === undefined || head.retryAt > now || !webhook) return this.#arm(head?.retryAt ?? null);
    this.#arm(null);
    this.#sending = true;
    void webhook
      .send(head.event)
      .then((result) => {
        if (this.#stopped) return;
        if (result.ok) {
          this.counts.delivered++;
          this.#webhookQueue.shift();
          this.#settle(head, 'webhook');
          return;
        }
        this.counts.failed++;
        head.attempts++;
        head.retryAt = this.#options.now() + webhook.backoff(head.attempts);
        this.#options.report(`webhook ${head.event.id} try ${head.attempts} failed (${result.error}); next in ${head.retryAt - this.#options.now()} ms`);
        this.#write(this.#options.store.put(head));
      })
      .catch((error: unknown) => this.#options.report(`webhook ${head.event.id}: ${String(error)}`))
      .finally(() => {
        this.#sending = false;
        this.#pump();
      });
  }

  /** Arms the next wake-up: a webhook retry, or the hook recheck while hooks are owed. */
  #arm(retryAt: number | null): void {
    const recheck = this.#options.hookRecheck;
    const hooksAt = recheck !== undefined && this.#hooksOwed > 0 ? this.#options.now() + recheck : null;
    this.#options.schedule(retryAt === null ? hooksAt : hooksAt === null ? retryAt : Math.min(retryAt, hooksAt));
  }

  #settle(record: OutboxRecord, delivery: Delivery): void {
    if (delivery === 'hooks' && --this.#hooksOwed === 0) this.#pump();
    record.owed = record.owed.filter((owed) => owed !== delivery);
    if (record.owed.length > 0) {
      this.#write(this.#options.store.put(record));
      return;
    }
    this.#records.delete(record.event.id);
    this.#write(this.#options.store.delete(record.event.id));
  }

  #write(write: void | Promise<void>): void {
    if (!write) return;
    const tracked = write
      .catch((error: unknown) => this.#options.report(`event store write failed: ${String(error)}`))
      .finally(() => this.#writes.delete(tracked));
    this.#writes.add(tracked);
  }
}
