/**
 * One Durable Object per hub: many keepalive connections (one hibernatable WebSocket
 * each) in one platform-free `Host`, their snapshots in the object's storage, and one
 * alarm as the timer for all of them.
 *
 * What is written when, so that an eviction between any two events loses nothing:
 * - A step that changes what only we know (a connection opens, ADVERTISE, a PING sent,
 *   death or close) writes or deletes that connection's row synchronously before its
 *   effects run; the output gate holds the frames they send until the write is durable.
 * - A frame that only proves the peer alive (a PONG, application data, a binary PING
 *   answered on the host's fast path) is no step and writes nothing: its time goes into
 *   the socket's attachment, which lives exactly as long as the socket. A row write per
 *   frame would cost more than the wake-up that delivered it.
 * - Text PINGs never reach us: the platform answers them and keeps the latest answer's
 *   time per socket (`getWebSocketAutoResponseTimestamp`). Only while an inspector page
 *   watches (inspector.ts) do they come to the host, which answers and steps them.
 * - A step that only folds those signs of life in writes nothing either (store.ts): the
 *   platform can give them back. A rebuilt object (constructor) takes back its sockets by
 *   tag, resumes the stored rows, hands back each socket's latest frame and answered PING
 *   (`noteSignOfLife`, `noteAnsweredPing`: ignored unless newer), and only then ticks.
 *   Every wake reads the answered PINGs again before anything is stepped.
 * - The alarm is written when the earliest deadline moves earlier. When a sign of life
 *   moves it later the old alarm stays: it fires early, ticks nothing, and is re-armed
 *   (a wake-up is cheaper than a write per frame). Except for the first frame after our
 *   PING (the peer's answer, at most one per PING): it is folded at once and the alarm
 *   follows the earliest deadline later, which saves the early wake-up for the same
 *   number of alarm writes. Measured (bench figure 7): a peer that only answers our PINGs
 *   went from about 1.8 alarms per interval to 1.
 */
import { DurableObject } from 'cloudflare:workers';
import { type AssembledHub, assembleHub, type ConnectTicket, frameOf, type HubDelivery, type PeerHub, WebSocketPeer } from '../../runtime/hub/index.ts';
import type { HubMetrics } from '../../runtime/metrics/index.ts';
import { outlivesSocket, type EndCause } from '../../runtime/protocol/index.ts';
import { type Admission, type AppData, type Application, type Awaitable, type BroadcastOptions, type CloseInfo, type Connection, type DeadVerdict, type Hooks, type Hub, type MessageInfo, type PresenceEntry, type PresenceVerdict, refusal } from '../../runtime/application/index.ts';
import type { PresenceState } from '../../runtime/protocol/index.ts';
import { DurableObjectPresenceStates } from './presence-states.ts';
import { ShardPresence } from './shard-presence.ts';
import type { ConnectionId, Host, SocketRegistry } from '../../runtime/host/index.ts';
import { TEXT_FRAMES } from '../../runtime/codec/index.ts';
import { DurableObjectEventStore } from './events.ts';
import { AlarmTimer } from './alarm.ts';
import { hubConfig, type Env, type HubConfig } from './config.ts';
import { hubInspector, type HubInspector } from './inspector.ts';
import { DurableObjectSnapshotStore } from './store.ts';
import { connectionIdOn, SHARD_HEADER, ShardLinks } from './shards.ts';
import { shardRoutes } from './shard-routes.ts';
import { WakeCounter, type WakeCounts } from './wakes.ts';
import { attachmentOf, closeQuietly, connectionIdOf, DO_PORT, isPing, type SocketAttachment } from './websocket.ts';
import { DurableObjectDeliveryStore } from './deliveries.ts';

/** Set on the 101 answer to /connect. */
export const CONNECTION_HEADER = 'x-keepalive-connection';
/** Set by the Worker on every request it forwards: the hub's name, for events and webhooks. */
export const HUB_HEADER = 'x-keepalive-hub';
/** Storage key of the hub's name: a rebuilt object knows it before its first request. */
const HUB_NAME_KEY = 'hub:name';
/** Storage key of this object's shard of its hub (absent: 0, as for a hub of one shard). */
const SHARD_KEY = 'hub:shard';
/**
 * While hooks are owed, the object asks for an alarm this far ahead: evicted in the middle
 * of a hook, it is rebuilt then and runs the hook again.
 */
const HOOK_RECHECK_MS = 5000;

/** What GET /stats/<hub> answers. */
export interface HubStats {
  wakes: WakeCounts;
  host: Host['stats'];
  connections: number;
  sockets: number;
  alarmAt: number | null;
  alarmsSet: number;
  /** Snapshot rows written, saves skipped (nothing the platform could not give back), deletes. */
  storage: DurableObjectSnapshotStore['counts'];
  /** Inspector pages watching: while any is, the object stays awake and auto-response is off. */
  inspectors: number;
}

/** The platform answers this text PING with PONG itself, even while the object sleeps. */
const AUTO_RESPONSE = new WebSocketRequestResponsePair(TEXT_FRAMES.PING, TEXT_FRAMES.PONG);

/** What a hub is made of: private to the object, read by tests through `hubInternals` (test-access.ts). */
export interface HubInternals extends AssembledHub {
  config: HubConfig;
  store: DurableObjectSnapshotStore;
  timer: AlarmTimer;
  wakes: WakeCounter;
  inspector: HubInspector;
}

/** The parts of every hub, by instance: kept off the class so a subclass's names never meet ours. */
export const INTERNALS = new WeakMap<KeepaliveHub, HubInternals>();

/**
 * Build on it by subclassing: every hook is an optional method (`authorize`, `onOpen`,
 * `onMessage`, `onDead`, `onClose`), and the hub itself is the `Hub` hooks get
 * (`broadcast`, `connections`, `presence`). Export the subclass from your Worker and bind
 * it as KEEPALIVE_HUB in your wrangler.toml; the Worker's routes stay ours.
 */
export class KeepaliveHub extends DurableObject<Env> implements Hub {
  readonly #host: Host;
  readonly #metrics: HubMetrics;
  readonly #application: Application;
  readonly #sockets: SocketRegistry;
  readonly #store: DurableObjectSnapshotStore;
  readonly #timer: AlarmTimer;
  readonly #wakes: WakeCounter;
  readonly #inspector: HubInspector;
  /** What every socket's peer record is bound to. */
  readonly #peers: PeerHub<WebSocket>;
  readonly #delivery: HubDelivery;
  readonly #fetch: (request: Request) => Response | Promise<Response>;
  /** Connections we have sent a PING since their last frame (in memory: after an eviction the next alarm folds their answer). */
  readonly #awaitingAnswer = new Set<ConnectionId>();
  #name: string;
  #shard: number;
  /** The hub's other shards, when it has any (`KEEPALIVE_SHARDS` > 1). */
  readonly #links: ShardLinks | undefined;
  /** Presence for peers across shards, when both are on. */
  #shardPresence: ShardPresence | undefined;
  /** When the outbox next needs a wake-up (a webhook retry, a hook recheck), or null. */
  #outboxWake: number | null = null;

  /** Before the upgrade: an `Admission` accepts, a `Response` refuses (its status reaches the client). */
  authorize?(request: Request): Awaitable<Admission | Response | undefined | void>;
  /** Once, when a connection is accepted. */
  onOpen?(conn: Connection): unknown;
  /** Every application frame (not keepalive); in delivery mode once each, in order, with its `seq`. */
  onMessage?(conn: Connection, data: AppData, message: MessageInfo): unknown;
  /** The statechart declared the peer dead; after an eviction, the rebuilt object runs it. */
  onDead?(conn: Connection, verdict: DeadVerdict): unknown;
  /** Once per opened connection, whatever ended it (after `onDead` when it died). */
  onClose?(conn: Connection, info: CloseInfo): unknown;
  /** A peer set its presence state (`KEEPALIVE_PRESENCE`): `{ state }` rewrites it, `{ refuse }` refuses it. */
  onPresence?(conn: Connection, state: PresenceState): Awaitable<PresenceVerdict | undefined | void>;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const config = hubConfig(env);
    this.#wakes = new WakeCounter(ctx.storage.kv, config.durableWakeCounts);
    this.#wakes.count('constructed');
    this.#store = new DurableObjectSnapshotStore(ctx.storage.kv);
    this.#timer = new AlarmTimer(ctx.storage, config.alarmSlack);
    this.#name = ctx.storage.kv.get<string>(HUB_NAME_KEY) ?? ctx.id.name ?? ctx.id.toString();
    this.#shard = ctx.storage.kv.get<number>(SHARD_KEY) ?? 0;
    this.#links =
      config.shards > 1
        ? new ShardLinks({
            namespace: env.KEEPALIVE_HUB,
            hub: () => this.#name,
            shard: () => this.#shard,
            shards: config.shards,
            hubHeader: HUB_HEADER,
            report: (line) => console.error(`keepalive: hub "${this.#name}" shard ${this.#shard}: ${line}`),
          })
        : undefined;
    // The subclass's methods, looked up per call: they are on the prototype, ours are not set.
    const hooks: Hooks = {
      ...(this.authorize ? { authorize: (request) => this.authorize!(request) } : {}),
      ...(this.onOpen ? { onOpen: (conn) => this.onOpen!(conn) } : {}),
      ...(this.onMessage ? { onMessage: (conn, data, _hub, message) => this.onMessage!(conn, data, message) } : {}),
      ...(this.onDead ? { onDead: (conn, verdict) => this.onDead!(conn, verdict) } : {}),
      ...(this.onClose ? { onClose: (conn, info) => this.onClose!(conn, info) } : {}),
      ...(this.onPresence ? { onPresence: (conn, state) => this.onPresence!(conn, state) } : {}),
    };
    let inspector: HubInspector | undefined;
    const hub = assembleHub(
      // No token here: the Worker guards the private routes (worker.ts) and the object serves whoever it forwards.
      { ...config.settings, token: undefined, hooks },
      {
        accept: () => (_c, ticket) => this.#accept(ticket),
        transport: (sockets) => ({
          send: (id, frame) => {
            if (isPing(frame)) this.#awaitingAnswer.add(id);
            sockets.send(id, frame);
          },
          close: (id, cause) => {
            this.#awaitingAnswer.delete(id);
            sockets.close(id, cause);
          },
        }),
        store: this.#store,
        events: new DurableObjectEventStore(ctx.storage.kv),
        deliveries: new DurableObjectDeliveryStore(ctx.storage.kv, config.settings.deliveryWindow),
        // Hibernation and eviction end the instance, not the sockets: their states must outlive it.
        presenceStates: new DurableObjectPresenceStates(ctx.storage.kv),
        presenceChanged: (id) => this.#shardPresence?.changed(id),
        // An object runs its timers only while an event is alive: a pending presence frame keeps it so.
        presenceTimers: {
          setTimeout: (callback, ms) => {
            let handle: ReturnType<typeof setTimeout> | undefined;
            ctx.waitUntil(new Promise<void>((resolve) => (handle = setTimeout(() => (callback(), resolve()), ms))));
            return handle;
          },
          clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
        },
        // The socket outlives the instance: it says the handshake was done, for a rebuilt one.
        deliveryOpened: (id) => {
          for (const ws of ctx.getWebSockets(id)) ws.serializeAttachment({ ...attachmentOf(ws), open: true } satisfies SocketAttachment);
        },
        // Looked up per call: Workers advance Date.now() only across I/O, and tests move it.
        now: () => Date.now(),
        pingWindow: config.pingWindow,
        onNextWake: (at) => this.#timer.schedule(this.#earliest(at)),
        hubName: () => this.#name,
        application: {
          hookRecheck: HOOK_RECHECK_MS,
          schedule: (at) => {
            this.#outboxWake = at;
            this.#timer.schedule(this.#earliest(this.#host.nextWake()));
          },
        },
        openWithoutToken: true,
        shards: this.#links,
        extend: (app, host) => {
          inspector = hubInspector({
            host,
            token: env.KEEPALIVE_TOKEN,
            onWatching: (watching) => this.#watched(watching),
            shards: config.shards,
          });
          app.get('/stats', (c) => c.json(this.stats()));
          app.route('/', inspector.routes);
          if (this.#links) app.route('/', shardRoutes(() => this.#application, (from, up, down) => this.#shardPresence?.receive(from, up, down)));
        },
      },
    );
    this.#host = hub.host;
    this.#metrics = hub.metrics;
    this.#application = hub.application;
    this.#sockets = hub.sockets;
    this.#peers = { port: DO_PORT, host: hub.host, sockets: hub.sockets, gate: hub.gate, delivery: hub.delivery, presence: hub.presence };
    this.#delivery = hub.delivery;
    const links = this.#links;
    if (links && hub.presence) this.#shardPresence = new ShardPresence({ host: hub.host, feed: hub.presence, kv: ctx.storage.kv, post: (up, down) => links.postRows(up, down) });
    this.#inspector = inspector!;
    this.#fetch = hub.app.fetch;
    INTERNALS.set(this, { ...hub, config, store: this.#store, timer: this.#timer, wakes: this.#wakes, inspector: this.#inspector });
    // The platform answers a text PING itself, even while the object sleeps, so a peer
    // that PINGs never wakes us. It answers per object, not per connection: a peer that
    // PINGs before its ADVERTISE gets a PONG too (see README, Cloudflare).
    ctx.setWebSocketAutoResponse(AUTO_RESPONSE);
    void ctx.blockConcurrencyWhile(async () => {
      await this.#timer.load();
      // Events an evicted instance still owed: hooks run again, webhooks are retried.
      await this.#application.load();
      this.#rebuild();
      if (this.#shard >= config.shards) this.#retire(config.shards);
      this.#application.start();
    });
  }

  get name(): string {
    return this.#name;
  }

  /** Which of its hub's `KEEPALIVE_SHARDS` objects this is (0 when the hub is one object). */
  get shard(): number {
    return this.#shard;
  }

  /**
   * Every live connection of the hub, on every shard (each row naming its `shard`): one
   * request to each other shard, which wakes it. `presence()` is this shard's, at once.
   */
  async hubPresence(): Promise<PresenceEntry[]> {
    const here = this.presence();
    return this.#links ? here.concat(await this.#links.others()) : here;
  }

  broadcast(data: AppData, options?: BroadcastOptions): number {
    return this.#application.broadcast(data, options);
  }

  connections(): Connection[] {
    return this.#application.connections();
  }

  connection(id: ConnectionId): Connection | undefined {
    return this.#application.connection(id);
  }

  presence(): PresenceEntry[] {
    return this.#application.presence();
  }

  override async fetch(request: Request): Promise<Response> {
    this.#wakes.count('fetches');
    const hub = request.headers.get(HUB_HEADER);
    if (hub !== null && hub !== this.#name) {
      this.#name = hub;
      this.ctx.storage.kv.put(HUB_NAME_KEY, hub);
    }
    const shard = this.#links ? Number(request.headers.get(SHARD_HEADER) ?? 0) : 0;
    if (shard !== this.#shard && Number.isInteger(shard) && shard >= 0) {
      this.#shard = shard;
      this.ctx.storage.kv.put(SHARD_KEY, shard);
    }
    if (new URL(request.url).pathname === '/actors') this.#handOverAll();
    return this.#fetch(request);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const at = Date.now();
    const frame = frameOf(message)!;
    if (isPing(frame)) this.#wakes.count('messages', 'pings');
    else this.#wakes.count('messages');
    const id = connectionIdOf(this.ctx, ws);
    if (id === undefined || !this.#host.has(id)) return closeQuietly(ws, 1000, 'connection already ended');
    this.#handOver(id, ws);
    if (!this.#peerOn(ws, id)?.message(frame, at)) return;
    ws.serializeAttachment({ seen: at, ...(this.#delivery.opened(id) ? { open: true } : {}) } satisfies SocketAttachment);
    // The answer to our PING: its deadline moves a whole interval later, so move the alarm now
    // (awake anyway) rather than let the armed one fire early.
    if (this.#awaitingAnswer.delete(id) && this.#host.fold(id)) this.#timer.follow(this.#earliest(this.#host.nextWake()));
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.#wakes.count('closes');
    const peer = this.#peerOn(ws);
    if (peer?.closed(code, reason)) this.#awaitingAnswer.delete(peer.id!);
    // The hibernation API leaves the closing handshake to us.
    closeQuietly(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    this.#wakes.count('closes');
    const peer = this.#peerOn(ws);
    if (peer?.failed(error instanceof Error ? error.message : String(error))) this.#awaitingAnswer.delete(peer.id!);
  }

  override async alarm(): Promise<void> {
    this.#wakes.count('alarms');
    const now = Date.now();
    this.#metrics.woke(this.#timer.armedAt ?? now, now);
    this.#timer.fired();
    // Folded now, not at their own deadlines: the PINGs the platform answered push every
    // such connection's deadline out together, so peers that only PING share one alarm
    // per interval instead of waking the object at each of their deadlines. (No write:
    // the store keeps only what the platform cannot give back.)
    this.#handOverAll(true);
    // Runs only the due connections and re-arms at the next deadline.
    this.#host.tick(now);
    this.#application.wake();
  }

  stats(): HubStats {
    return {
      wakes: { ...this.#wakes.counts },
      host: { ...this.#host.stats },
      connections: this.#host.size,
      sockets: this.ctx.getWebSockets().length,
      alarmAt: this.#timer.armedAt,
      alarmsSet: this.#timer.setCount,
      storage: { ...this.#store.counts },
      inspectors: this.#inspector.watchers,
    };
  }

  /**
   * While a page watches, the object is awake anyway (its stream is a request in flight),
   * so PINGs come to the host instead of the platform and the timeline shows each one.
   * PINGs the platform answered before are handed over first.
   */
  #watched(watching: boolean): void {
    if (watching) {
      this.ctx.setWebSocketAutoResponse();
      this.#handOverAll();
    } else this.ctx.setWebSocketAutoResponse(AUTO_RESPONSE);
  }

  /** The earliest of the host's next deadline and the outbox's next wake-up: the one alarm serves both. */
  #earliest(hostWake: number | null): number | null {
    const outbox = this.#outboxWake;
    return hostWake === null ? outbox : outbox === null ? hostWake : Math.min(hostWake, outbox);
  }

  /**
   * An admitted `/connect` (runtime/hub/connect.ts) becomes a hibernatable WebSocket tagged
   * with its connection's id: a new one's, or the session's it resumes.
   */
  #accept(ticket: ConnectTicket): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    const bound = new WebSocketPeer(server, this.#peers).attach(ticket, connectionIdOn(this.#shard));
    if (typeof bound !== 'string') return refusal(bound.status, bound.error);
    this.ctx.acceptWebSocket(server, [bound]);
    // The id lets a client find itself in /actors; it grants nothing (ids are unguessable and not addressable).
    const headers: Record<string, string> = { [CONNECTION_HEADER]: bound };
    if (ticket.protocol) headers['sec-websocket-protocol'] = ticket.protocol;
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  /** A fresh instance (first start, or after hibernation or eviction) takes back its sockets and snapshots. */
  #rebuild(): void {
    const now = Date.now();
    const live = new Map<ConnectionId, WebSocket>();
    const peers = new Map<ConnectionId, WebSocketPeer<WebSocket>>();
    for (const ws of this.ctx.getWebSockets()) {
      const id = connectionIdOf(this.ctx, ws);
      if (id === undefined) continue;
      live.set(id, ws);
      const peer = new WebSocketPeer(ws, this.#peers);
      peer.adopt(id);
      peers.set(id, peer);
    }
    const records = this.#store.load();
    this.#host.resume(records, now);
    // Its delivery-mode link is read back from storage, on this same socket. After the resume:
    // whether a connection speaks delivery mode is in its meta, which the host has only now.
    for (const [id, peer] of peers) {
      if (attachmentOf(peer.socket).open) this.#delivery.readopt(id, peer);
      else this.#delivery.attach(id, peer);
    }
    for (const record of records) {
      if (live.has(record.id) || !this.#host.has(record.id)) continue;
      // Its socket is gone (a runtime restart disconnects them all). A session's connection
      // waits for its peer as after any socket lost without a goodbye; any other has ended,
      // and its application hears so (onClose, the webhook).
      if (outlivesSocket(this.#host, record.id, 1006)) continue;
      this.#host.peerClosed(record.id, { cause: 'socket-lost', away: true });
    }
    for (const [id, ws] of live) {
      // Its actor already ended (dead, closed) and the socket is still finishing its close.
      if (!this.#host.has(id)) {
        this.#sockets.detach(id);
        closeQuietly(ws, 1000, 'connection ended');
        continue;
      }
      // Oldest first: the host keeps only a newer sign of life than it has.
      const seen = attachmentOf(ws).seen;
      const answered = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime();
      const answeredFirst = answered !== undefined && seen !== undefined && answered < seen;
      if (answeredFirst) this.#host.noteAnsweredPing(id, answered);
      if (seen !== undefined) this.#host.noteSignOfLife(id, seen);
      if (answered !== undefined && !answeredFirst) this.#host.noteAnsweredPing(id, answered);
    }
    this.#host.tick(now);
  }

  /**
   * KEEPALIVE_SHARDS went down past this shard: nobody is routed here any more, and its peers
   * would be out of the hub's presence and broadcasts. Each connection ends as in a restart
   * (1012), so clients reconnect and land on a shard that is.
   */
  #retire(shards: number): void {
    const cause: EndCause = { cause: 'restart', detail: `shard ${this.#shard} retired (KEEPALIVE_SHARDS is ${shards})` };
    for (const id of [...this.#host.ids()]) this.#host.close(id, cause);
  }

  /** Feeds the latest PING the platform answered for this socket, as a sign of life at that time. */
  #handOver(id: ConnectionId, ws: WebSocket): boolean {
    const answered = this.ctx.getWebSocketAutoResponseTimestamp(ws);
    return answered !== null && this.#host.noteAnsweredPing(id, answered.getTime());
  }

  #handOverAll(fold = false): void {
    for (const ws of this.ctx.getWebSockets()) {
      const id = connectionIdOf(this.ctx, ws);
      if (id === undefined || !this.#host.has(id)) continue;
      this.#handOver(id, ws);
      // Reading a connection folds whatever it has pending, not only what was new just now:
      // a rebuild before this wake may have handed the same answered PING over already.
      if (fold) this.#host.view(id);
    }
  }

  /**
   * The peer record of the connection `ws` is tagged with, if `ws` is still that
   * connection's socket (the shared peer decides what its events mean). Found by tag: a
   * record does not survive hibernation, the socket and its tag do.
   */
  #peerOn(ws: WebSocket, id = connectionIdOf(this.ctx, ws)): WebSocketPeer<WebSocket> | undefined {
    const peer = id === undefined ? undefined : this.#sockets.get(id);
    return peer instanceof WebSocketPeer && peer.socket === ws ? (peer as WebSocketPeer<WebSocket>) : undefined;
  }
}
