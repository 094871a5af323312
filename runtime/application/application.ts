/**
 * The application layer over one Host: connection handles, hooks, presence, broadcast,
 * and the outbox that carries `open`/`dead`/`closed` to hooks and the webhook at least
 * once. Platform-free: the Node and Deno servers and the Durable Object each build one
 * and only wire it (the Host's `onMessage` to `message`, `/connect` through `admit`).
 *
 * Keepalive never waits for it: events are taken from the Host's event stream as they
 * happen, hooks run after, and whatever a hook does (throw, reject, hang) stays in it.
 */
import { assertApplicationFrame, dataFromWire, dataOnWire, type DataOnWire, type Frame } from '../codec/index.ts';
import type { ConnectionId, Host, HostEvent, SocketRegistry } from '../host/index.ts';
import { SESSION_META } from '../protocol/index.ts';
import { eventId, MemoryEventStore, type ApplicationEvent, type EventStore, type UndeliveredRecord } from './events.ts';
import type { DeferredDeleteStore } from './deferred-delete-store.ts';
import { Outbox } from './outbox.ts';
import { admit, describe, PEER_META, PRESENCE_META, type Admitted } from './peer.ts';
import type { HubPlace, RemoteHub } from './remote.ts';
import type { AppData, BroadcastOptions, Connection, Hooks, Hub, PresenceEntry, PresenceVerdict } from './types.ts';
import type { PresenceState } from '../protocol/index.ts';
import { WebhookSender, type WebhookOptions } from './webhook.ts';

export interface ApplicationOptions {
  host: Host;
  sockets: Pick<SocketRegistry, 'get'>;
  /** The hub's name, in events and webhooks; a function when it is known only later (a Durable Object). */
  hub: string | (() => string);
  hooks?: Hooks | undefined;
  webhook?: WebhookOptions | undefined;
  /** Where undelivered events wait. Default: memory (delivered while the process lives). */
  events?: EventStore | undefined;
  /** Arms the outbox's retry wake-up; call `wake()` then. Default: a `setTimeout` of its own. */
  schedule?: ((at: number | null) => void) | undefined;
  now?: (() => number) | undefined;
  /** See `OutboxOptions.hookRecheck`: for a platform that may evict the instance running a hook. */
  hookRecheck?: number | undefined;
  /**
   * The Host's store, when it writes through a `DeferredDeleteStore`: a connection's snapshot is
   * then deleted together with the events that report its end (see deferred-delete-store.ts).
   */
  deferredDeletes?: DeferredDeleteStore | undefined;
  /** Failures of hooks and webhook tries. Default `console.error`. */
  report?: ((line: string) => void) | undefined;
  /** The other processes of a clustered hub (runtime/cluster/); none: the hub is this process. */
  remote?: RemoteHub | undefined;
  /** Each hook call: which, whether it failed, and (lifecycle hooks) how long it took in ms. */
  onHook?: ((hook: string, failed: boolean, ms?: number) => void) | undefined;
  /** Delivery mode's links (runtime/hub/delivery.ts): sends to a connection that speaks it go into its window. */
  delivery?: ApplicationDelivery | undefined;
}

/** What the application layer asks of delivery mode. */
export interface ApplicationDelivery {
  /** Undefined: `id` does not speak delivery mode; false: its window is full. */
  send(id: ConnectionId, data: AppData): boolean | undefined;
  /** Whether `id` speaks delivery mode. */
  speaks(id: ConnectionId): boolean;
  unacknowledged(id: ConnectionId): readonly { seq: number; data: AppData; bytes: number }[];
}

/** What a dead or ended connection's events keep of its unacknowledged messages: all, up to these. */
const UNDELIVERED_KEPT = { messages: 100, bytes: 64 * 1024 };

/** Meta keys of our own: shown as `conn.peer` (or not at all), not in `conn.meta`. */
const HIDDEN_META = new Set([SESSION_META, PEER_META, PRESENCE_META]);

export class Application implements Hub {
  readonly host: Host;
  readonly outbox: Outbox;
  readonly #sockets: Pick<SocketRegistry, 'get'>;
  readonly #hub: () => string;
  readonly #hooks: Hooks;
  readonly #report: (line: string) => void;
  readonly #handles = new Map<ConnectionId, Connection>();
  readonly #ending: DeferredDeleteStore | undefined;
  readonly #remote: RemoteHub | undefined;
  readonly #onHook: ((hook: string, failed: boolean, ms?: number) => void) | undefined;
  readonly #delivery: ApplicationDelivery | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ApplicationOptions) {
    this.host = options.host;
    this.#sockets = options.sockets;
    const hub = options.hub;
    this.#hub = typeof hub === 'string' ? () => hub : hub;
    this.#hooks = options.hooks ?? {};
    this.#ending = options.deferredDeletes;
    this.#remote = options.remote;
    this.#onHook = options.onHook;
    this.#delivery = options.delivery;
    this.#report = options.report ?? ((line) => console.error(`keepalive: ${line}`));
    const webhook = options.webhook ? new WebhookSender(options.webhook) : undefined;
    if (webhook && !webhook.signed) this.#report(`webhook ${webhook.url} has no secret: its requests are not signed`);
    const hooks = this.#hooks;
    this.outbox = new Outbox({
      store: options.events ?? new MemoryEventStore(),
      webhook,
      runHooks: (event) => this.#runHooks(event),
      hooksWant: (type) => (type === 'open' ? !!hooks.onOpen : type === 'dead' ? !!hooks.onDead : !!hooks.onClose),
      schedule: options.schedule ?? this.#schedule,
      now: options.now ?? Date.now,
      report: this.#report,
      ...(options.hookRecheck !== undefined ? { hookRecheck: options.hookRecheck } : {}),
    });
    // Lifecycle only: no per-frame event is made for the application layer.
    this.host.subscribe((event) => this.#onHostEvent(event), { frames: false });
  }

  get name(): string {
    return this.#hub();
  }

  /**
   * Takes back the events an earlier process (or instance) left owed. Call before the host
   * restores its connections: a connection whose `closed` event was recorded is over,
   * even if its snapshot's delete was lost in the crash (Deno KV writes them apart), so
   * its snapshot is deleted here and it is never restored to die a second time.
   * Returns how many events are owed.
   */
  async load(): Promise<number> {
    const owed = await this.outbox.load();
    const store = this.#ending?.inner ?? this.host.store;
    for (const record of owed) if (record.event.type === 'closed') await store.delete(record.event.connection);
    return owed.length;
  }

  /** Starts delivering (hooks, webhook): once the host has restored its connections. */
  start(): void {
    this.outbox.start();
  }

  /** The outbox's wake-up came (the default timer, or the platform's: an alarm). */
  wake(): void {
    this.outbox.wake();
  }

  /** Hands hooks and webhooks the time to finish (shutdown), then stops retrying. */
  async stop(ms = 2000): Promise<void> {
    await this.outbox.drain(ms);
    this.outbox.stop();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  /** Decides a `/connect` before the upgrade: who the peer is, or the refusal to answer. */
  admit(request: Request): Promise<Admitted | Response> {
    return admit(request, this.#hooks, this, this.#report);
  }

  /**
   * The Host's `onMessage`: an application frame arrived. `tag` is the connection's handle
   * as `connection()` left it with the host: no lookup by id per frame.
   */
  readonly message = (id: ConnectionId, data: Frame, at: number, tag?: unknown, seq?: number): void => {
    const onMessage = this.#hooks.onMessage;
    if (!onMessage) return;
    const conn = (tag as Connection | undefined) ?? this.connection(id);
    if (!conn) return;
    try {
      const result = onMessage.call(this.#hooks, conn, data, this, { at, seq });
      if (result instanceof Promise) result.then(() => this.#onHook?.('onMessage', false), (error: unknown) => this.#failed('onMessage', id, error));
      else this.#onHook?.('onMessage', false);
    } catch (error) {
      this.#failed('onMessage', id, error);
    }
  };

  /**
   * The `onPresence` hook's word on a state connection `id` set (undefined: keep it as sent).
   * Arrow: presence (runtime/presence/) holds it as its validator.
   */
  readonly presenceVerdict = (id: ConnectionId, state: PresenceState): PresenceVerdict | undefined | Promise<PresenceVerdict | undefined> => {
    const onPresence = this.#hooks.onPresence;
    const conn = onPresence && this.connection(id);
    if (!onPresence || !conn) return undefined;
    const verdict = onPresence.call(this.#hooks, conn, state, this);
    return verdict instanceof Promise ? verdict.then((value) => value ?? undefined) : (verdict ?? undefined);
  };

  /** This part's place in a hub spread over processes or shards, or undefined. */
  get here(): HubPlace | undefined {
    return this.#remote?.here;
  }

  /** A connection this process no longer holds (handed to another process): its handle goes. */
  forget(id: ConnectionId): void {
    this.#handles.delete(id);
  }

  connection(id: ConnectionId): Connection | undefined {
    let handle = this.#handles.get(id);
    if (handle) return handle;
    const meta = this.host.meta(id);
    if (meta === undefined) return this.#remoteHandle(id);
    handle = this.#handle(id, meta, true);
    this.#handles.set(id, handle);
    this.host.tag(id, handle);
    return handle;
  }

  connections(): Connection[] {
    const all: Connection[] = [];
    for (const id of this.host.ids()) {
      const conn = this.connection(id);
      if (conn) all.push(conn);
    }
    if (this.#remote) {
      for (const row of this.#remote.rows()) {
        const conn = this.#remoteHandle(row.connection);
        if (conn) all.push(conn);
      }
    }
    return all;
  }

  broadcast(data: AppData, options: BroadcastOptions = {}): number {
    assertApplicationFrame(data);
    const except = new Set<ConnectionId>();
    const excluded = options.except;
    for (const one of excluded === undefined ? [] : Array.isArray(excluded) ? excluded : [excluded]) {
      except.add(typeof one === 'string' ? one : (one as Connection).id);
    }
    this.#remote?.broadcast(data, [...except]);
    return this.broadcastHere(data, except);
  }

  /**
   * A broadcast's part for this process's own connections (a clustered hub's other processes
   * call it). `plainOnly`: delivery-mode connections got it another way (their inboxes).
   */
  broadcastHere(data: AppData, except: ReadonlySet<ConnectionId>, plainOnly = false): number {
    let sent = 0;
    for (const id of this.host.ids()) {
      if (except.has(id) || this.host.codec(id) !== 'text') continue;
      if (plainOnly && this.#delivery?.speaks(id)) continue;
      const taken = this.#delivery?.send(id, data);
      if (taken !== undefined) {
        if (taken) sent++;
        continue;
      }
      const socket = this.#sockets.get(id);
      if (!socket) continue;
      socket.send(data);
      sent++;
    }
    return sent;
  }

  presence(): PresenceEntry[] {
    const here = presenceOf(this.host, this.#remote?.here);
    return this.#remote ? here.concat(this.#remote.rows()) : here;
  }

  #remoteHandle(id: ConnectionId): Connection | undefined {
    const remote = this.#remote;
    const held = remote?.holder(id);
    if (!remote || !held) return undefined;
    return {
      id,
      peer: held.peer,
      meta: NO_META,
      send: (data) => {
        assertApplicationFrame(data);
        return remote.send(id, data);
      },
      close: (reason = 'closed by the application') => void remote.close(id, reason),
    };
  }

  #handle(id: ConnectionId, stored: Readonly<Record<string, string>>, live: boolean): Connection {
    const meta = visibleMeta(stored);
    const peer = stored[PEER_META] ?? null;
    return {
      id,
      peer,
      meta,
      send: (data) => {
        assertApplicationFrame(data);
        if (!live || !this.host.has(id)) return false;
        const taken = this.#delivery?.send(id, data);
        if (taken !== undefined) return taken;
        const socket = this.#sockets.get(id);
        if (!socket) return false;
        socket.send(data);
        return true;
      },
      close: (reason) => {
        if (live) this.host.close(id, { cause: 'application', ...(reason === undefined ? {} : { reason }) });
      },
    };
  }

  #onHostEvent(event: HostEvent): void {
    switch (event.type) {
      case 'opened':
        // A client host's own connection is no peer of ours.
        if (event.role === 'server') this.outbox.record(this.#event(event.id, event.at, event.meta, { type: 'open' }));
        return;
      case 'dead': {
        this.#handles.delete(event.id);
        const undelivered = this.#undelivered(event.id);
        this.#ended(event.id, [
          this.#event(event.id, event.at, event.meta, { type: 'dead', silentFor: event.silentFor, unanswered: event.unanswered, ...undelivered }),
          this.#event(event.id, event.at, event.meta, { type: 'closed', cause: event.cause, reason: event.reason, dead: true, ...undelivered }),
        ]);
        return;
      }
      case 'closed':
        this.#handles.delete(event.id);
        this.#ended(event.id, [this.#event(event.id, event.at, event.meta, { type: 'closed', cause: event.cause, reason: event.reason, dead: false, ...this.#undelivered(event.id) })]);
        return;
    }
  }

  /** Delivery mode: what connection `id` sent and its peer never acknowledged, as its last events keep it. */
  #undelivered(id: ConnectionId): { undelivered: UndeliveredRecord } | Record<string, never> {
    const entries = this.#delivery?.unacknowledged(id) ?? [];
    if (entries.length === 0) return {};
    const messages: DataOnWire[] = [];
    let bytes = 0;
    for (const entry of entries) {
      if (messages.length >= UNDELIVERED_KEPT.messages || bytes + entry.bytes > UNDELIVERED_KEPT.bytes) break;
      messages.push(dataOnWire(entry.data));
      bytes += entry.bytes;
    }
    return { undelivered: { count: entries.length, first: entries[0]!.seq, last: entries.at(-1)!.seq, messages } };
  }

  /** Records a connection's last events, then (with a `DeferredDeleteStore`) lets its snapshot go, as one write where the store can. */
  #ended(id: ConnectionId, events: ApplicationEvent[]): void {
    const record = () => events.map((event) => this.outbox.record(event)).filter((write): write is Promise<void> => write !== undefined);
    if (this.#ending) this.#ending.deleteWith(id, record);
    else record();
  }

  #event<T extends Pick<ApplicationEvent, 'type'> & Partial<ApplicationEvent>>(
    id: ConnectionId,
    at: number,
    meta: Readonly<Record<string, string>>,
    detail: T,
  ): ApplicationEvent {
    return {
      id: eventId(id, detail.type),
      hub: this.#hub(),
      connection: id,
      peer: meta[PEER_META] ?? null,
      at,
      meta: visibleMeta(meta),
      ...detail,
    } as ApplicationEvent;
  }

  async #runHooks(event: ApplicationEvent): Promise<void> {
    const hooks = this.#hooks;
    // An ended connection (or one from before a restart) gets a handle that sends nothing.
    const conn = this.connection(event.connection) ?? this.#handle(event.connection, { ...event.meta, ...(event.peer === null ? {} : { [PEER_META]: event.peer }) }, false);
    const name = event.type === 'open' ? 'onOpen' : event.type === 'dead' ? 'onDead' : 'onClose';
    const started = performance.now();
    try {
      if (event.type === 'open') await hooks.onOpen?.(conn, this);
      else {
        const undelivered = event.undelivered ? { undelivered: { ...event.undelivered, messages: event.undelivered.messages.map(dataFromWire) } } : {};
        if (event.type === 'dead') await hooks.onDead?.(conn, { at: event.at, silentFor: event.silentFor, unanswered: event.unanswered, ...undelivered }, this);
        else await hooks.onClose?.(conn, { at: event.at, cause: event.cause, reason: event.reason, dead: event.dead, ...undelivered }, this);
      }
      if (hooks[name]) this.#onHook?.(name, false, performance.now() - started);
    } catch (error) {
      this.#onHook?.(name, true, performance.now() - started);
      this.#failed(name, event.connection, error);
    }
  }

  #failed(hook: string, id: ConnectionId, error: unknown): void {
    if (hook === 'onMessage') this.#onHook?.(hook, true);
    this.#report(`${hook} hook failed for ${id}: ${describe(error)}`);
  }

  readonly #schedule = (at: number | null): void => {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (at === null) return;
    this.#timer = setTimeout(() => this.wake(), Math.max(0, at - Date.now()));
    // Node: pending retries alone do not hold a process open (the listeners do).
    (this.#timer as { unref?: () => void }).unref?.();
  };
}

const NO_META: Readonly<Record<string, string>> = Object.freeze({});

/** The live connections as `GET /presence` lists them; in a clustered hub each row names its `node`. */
export function presenceOf(host: Host, here?: HubPlace): PresenceEntry[] {
  return host.list().map((view) => ({
    peer: view.meta[PEER_META] ?? null,
    connection: view.id,
    state: view.state,
    lastSignOfLife: view.lastSignOfLife,
    ...here,
  }));
}

function visibleMeta(stored: Readonly<Record<string, string>>): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const key of Object.keys(stored)) if (!HIDDEN_META.has(key)) meta[key] = stored[key]!;
  return Object.freeze(meta) as Record<string, string>;
}
