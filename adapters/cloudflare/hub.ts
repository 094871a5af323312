/**
 * One Durable Object per hub: many keepalive connections (one hibernatable WebSocket
 * each) in one platform-free `Host`, their snapshots in the object's storage, and one
 * alarm as the timer for all of them.
 *
 * What is written when, so that eviction between any two events loses nothing:
 * - Every statechart step (open, ADVERTISE, a due tick, close) saves that connection's
 *   snapshot synchronously before its effects run; the output gate holds the frames
 *   those effects send until the write is durable.
 * - A frame that only proves the peer alive (a PONG, application traffic) is not a step:
 *   the host records it in memory and folds it in before the connection's next step.
 *   Writing a snapshot per frame would cost a storage row write per message (more than
 *   the message itself); instead each delivery stores its time in the socket's
 *   attachment, which lives exactly as long as the socket does. A rebuilt object hands
 *   it back with `noteSignOfLife` (ignored when the snapshot is already as new), so a
 *   PONG delivered just before an eviction still counts. Frame counts since the last
 *   step come back as one message; liveness (deadline, unanswered PINGs) is exact.
 * - PINGs the platform answered while we slept are never ours to store: the runtime
 *   keeps the latest time per socket (`getWebSocketAutoResponseTimestamp`) and we read
 *   it on every wake before anything is stepped.
 * - The alarm is armed at the earliest deadline (plus the optional slack).
 */
import { DurableObject } from 'cloudflare:workers';
import type { Hono } from 'hono';
import { nanoid } from 'nanoid';
import { createApp, Host, SocketRegistry, TEXT_FRAMES, type ConnectionId } from '../../runtime/index.ts';
import { AlarmTimer } from './alarm.ts';
import { hubConfig, type Env, type HubConfig } from './config.ts';
import { DurableObjectSnapshotStore } from './store.ts';
import { WakeCounter, type WakeCounts } from './wakes.ts';
import {
  closeQuietly,
  codecFromQuery,
  connectionIdOf,
  frameOf,
  isPing,
  peerSocket,
  seenOf,
  type SocketAttachment,
} from './websocket.ts';

/** Set on the 101 answer to /connect. */
export const CONNECTION_HEADER = 'x-keepalive-connection';

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
}

export class KeepaliveHub extends DurableObject<Env> {
  readonly config: HubConfig;
  readonly host: Host;
  readonly sockets = new SocketRegistry();
  readonly store: DurableObjectSnapshotStore;
  readonly timer: AlarmTimer;
  readonly wakes: WakeCounter;
  readonly #app: Hono;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = hubConfig(env);
    this.wakes = new WakeCounter(ctx.storage.kv, this.config.durableWakeCounts);
    this.wakes.count('constructed');
    this.store = new DurableObjectSnapshotStore(ctx.storage.kv);
    this.timer = new AlarmTimer(ctx.storage, this.config.alarmSlack);
    this.host = new Host({
      transport: this.sockets,
      store: this.store,
      // Looked up per call: Workers advance Date.now() only across I/O, and tests move it.
      now: () => Date.now(),
      defaults: this.config.keepalive,
      onNextWake: this.timer.schedule,
      ...(this.config.maxConnections !== undefined ? { maxConnections: this.config.maxConnections } : {}),
    });
    // The platform answers a text PING itself, even while the object sleeps, so a peer
    // that PINGs never wakes us. It answers per object, not per connection: a peer that
    // PINGs before its ADVERTISE gets a PONG too (see README, Cloudflare).
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(TEXT_FRAMES.PING, TEXT_FRAMES.PONG));
    this.#app = createApp({
      host: this.host,
      sockets: this.sockets,
      extend: (app) => {
        app.get('/connect', (c) => this.#accept(c.req.raw));
        app.get('/stats', (c) => c.json(this.stats()));
      },
    });
    void ctx.blockConcurrencyWhile(async () => {
      await this.timer.load();
      this.#rebuild();
    });
  }

  override async fetch(request: Request): Promise<Response> {
    this.wakes.count('fetches');
    if (new URL(request.url).pathname === '/actors') this.#handOverAll();
    return this.#app.fetch(request);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const at = Date.now();
    const frame = frameOf(message);
    this.wakes.count('messages');
    if (isPing(frame)) this.wakes.count('pings');
    const id = connectionIdOf(this.ctx, ws);
    if (id === undefined || !this.host.has(id)) return closeQuietly(ws, 1000, 'connection already ended');
    this.#handOver(id, ws);
    if (this.host.receive(id, frame, at)) ws.serializeAttachment({ seen: at } satisfies SocketAttachment);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.wakes.count('closes');
    this.#peerGone(ws, reason ? `peer closed: ${reason}` : `peer closed (${code})`);
    // The hibernation API leaves the closing handshake to us.
    closeQuietly(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    this.wakes.count('closes');
    this.#peerGone(ws, `socket error: ${error instanceof Error ? error.message : String(error)}`);
  }

  override async alarm(): Promise<void> {
    this.wakes.count('alarms');
    this.timer.fired();
    const now = Date.now();
    // Folded now, not at their own deadlines: the PINGs the platform answered push every
    // such connection's deadline out together, so peers that only PING share one alarm
    // per interval instead of waking the object at each of their deadlines. (No write:
    // the store keeps only what the platform cannot give back.)
    this.#handOverAll(true);
    // Runs only the due connections and re-arms at the next deadline.
    this.host.tick(now);
  }

  stats(): HubStats {
    return {
      wakes: { ...this.wakes.counts },
      host: { ...this.host.stats },
      connections: this.host.size,
      sockets: this.ctx.getWebSockets().length,
      alarmAt: this.timer.armedAt,
      alarmsSet: this.timer.setCount,
      storage: { ...this.store.counts },
    };
  }

  #accept(request: Request): Response {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      return Response.json({ error: 'expected a WebSocket upgrade' }, { status: 426 });
    }
    const codec = codecFromQuery(new URL(request.url).searchParams.get('codec') ?? undefined);
    if (codec instanceof Error) return Response.json({ error: codec.message }, { status: 400 });
    if (this.host.atCapacity) return Response.json({ error: 'connection limit reached' }, { status: 503 });
    const { 0: client, 1: server } = new WebSocketPair();
    const id = nanoid();
    this.ctx.acceptWebSocket(server, [id]);
    this.sockets.attach(id, peerSocket(server));
    this.host.open({ id, role: 'server', codec, meta: { transport: 'websocket', codec: codec.name } });
    // The id lets a client find itself in /actors; it grants nothing (ids are unguessable and not addressable).
    return new Response(null, { status: 101, webSocket: client, headers: { [CONNECTION_HEADER]: id } });
  }

  /** A fresh instance (first start, or after hibernation or eviction) takes back its sockets and snapshots. */
  #rebuild(): void {
    const now = Date.now();
    const live = new Map<ConnectionId, WebSocket>();
    for (const ws of this.ctx.getWebSockets()) {
      const id = connectionIdOf(this.ctx, ws);
      if (id === undefined) continue;
      live.set(id, ws);
      this.sockets.attach(id, peerSocket(ws));
    }
    const records = this.store.load();
    // The runtime dropped these sockets (a restart disconnects them all): nothing to watch.
    for (const record of records) if (!live.has(record.id)) this.store.delete(record.id);
    this.host.resume(
      records.filter((record) => live.has(record.id)),
      now,
    );
    for (const [id, ws] of live) {
      // Its actor already ended (dead, closed) and the socket is still finishing its close.
      if (!this.host.has(id)) {
        this.sockets.detach(id);
        closeQuietly(ws, 1000, 'connection ended');
        continue;
      }
      // Oldest first: the host keeps only a newer sign of life than it has.
      const seen = seenOf(ws);
      const answered = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime();
      const answeredFirst = answered !== undefined && seen !== undefined && answered < seen;
      if (answeredFirst) this.host.noteAnsweredPing(id, answered);
      if (seen !== undefined) this.host.noteSignOfLife(id, seen);
      if (answered !== undefined && !answeredFirst) this.host.noteAnsweredPing(id, answered);
    }
    this.host.tick(now);
  }

  /** Feeds the latest PING the platform answered for this socket, as a sign of life at that time. */
  #handOver(id: ConnectionId, ws: WebSocket): boolean {
    const answered = this.ctx.getWebSocketAutoResponseTimestamp(ws);
    return answered !== null && this.host.noteAnsweredPing(id, answered.getTime());
  }

  #handOverAll(fold = false): void {
    for (const ws of this.ctx.getWebSockets()) {
      const id = connectionIdOf(this.ctx, ws);
      // Reading a connection folds what it has pending.
      if (id !== undefined && this.host.has(id) && this.#handOver(id, ws) && fold) this.host.view(id);
    }
  }

  #peerGone(ws: WebSocket, reason: string): void {
    const id = connectionIdOf(this.ctx, ws);
    if (id === undefined) return;
    this.sockets.detach(id);
    this.host.peerClosed(id, reason);
  }
}
