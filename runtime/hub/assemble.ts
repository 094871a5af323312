/**
 * One hub, assembled once: the `Host`, its application layer (hooks, presence, outbox),
 * the `/connect` gate and the routes, from the hub's settings. The Node and Deno servers
 * and the Durable Object each call this and supply only what their platform has: how an
 * admitted request becomes a socket, the timer, the stores, and routes of their own.
 */
import type { Hono } from 'hono';
import { Application, type ApplicationOptions, DeferredDeleteStore, type EventStore, type Hooks, type RemoteHub } from '../application/index.ts';
import { type ConnectionId, Host, type HostEvent, type InspectObserver, type PingWindow, type SnapshotStore, SocketRegistry, type Transport } from '../host/index.ts';
import { defaultAdvertiseTimeout, DEFAULTS, eventLine, eventRecord, type HubSettings, type LogFormat } from '../config/index.ts';
import { HubMetrics, type ClusterGauges } from '../metrics/index.ts';
import { ConnectGate, type RemoteSession } from './connect.ts';
import { HubDelivery } from './delivery.ts';
import { createCodec } from '../codec/index.ts';
import type { DeliveryStore } from '../delivery/index.ts';
import { hubRoutes, type AcceptSocket } from './routes.ts';
import { PresenceFeed, type PresenceStates, type PresenceTimers } from '../presence/index.ts';

/** What a user configures a hub with in code: the settings (all optional) and the application. */
export interface HubOptions extends Partial<Omit<HubSettings, 'pingWindow'>> {
  /** ms a PING may leave before and after its due time, or `{ early, late }` (`HostOptions.pingWindow`). */
  pingWindow?: number | PingWindow | undefined;
  /** The hub's name in events and webhooks. Default `default`. */
  hub?: string;
  /** The application's hooks: authorize, onOpen, onMessage, onDead, onClose (docs/hooks.md). */
  hooks?: Hooks;
  /** XState inspection observer, handed to the Host (steps every frame). */
  inspect?: InspectObserver;
  /** Every host event, per-frame ones included (they cost only while someone listens). */
  onEvent?: (event: HostEvent) => void;
  /** One line per notable event (connections opened, closed, rejected, dead). Default: none. */
  log?: (line: string) => void;
  /** `json`: each event line is one JSON object (runtime/config/log.ts). Default `text`. */
  logFormat?: LogFormat;
  /** Serve `/metrics` and keep its counters (docs/operations.md). Default true. */
  metrics?: boolean;
}

/** What only the platform has. */
export interface HubPlatform {
  /**
   * Turns an admitted `/connect` request into the platform's socket (`ws` on Node,
   * `Deno.upgradeWebSocket`, `acceptWebSocket`), selecting the ticket's subprotocol; its
   * frames go in through `delivery.receive` (the shared WebSocket peer does that).
   */
  accept: (parts: { host: Host; sockets: SocketRegistry; gate: ConnectGate; delivery: HubDelivery; presence: PresenceFeed | undefined }) => AcceptSocket;
  /** Where to arm the one platform timer. */
  onNextWake: (at: number | null) => void;
  /** A durable snapshot store; none: the host's own memory. */
  store?: SnapshotStore | undefined;
  /** Where undelivered events wait; none: memory. */
  events?: EventStore | undefined;
  /** Where delivery-mode windows outlive the process; none: memory. */
  deliveries?: DeliveryStore | undefined;
  /** Where presence states outlive the instance; none: memory. */
  presenceStates?: PresenceStates | undefined;
  /** Presence's coalescing timer; none: the process's. */
  presenceTimers?: PresenceTimers | undefined;
  /** This part's own presence state of a connection changed (a clustered hub reports it). */
  presenceChanged?: ((id: ConnectionId) => void) | undefined;
  /** A delivery-mode socket finished its handshake (`HubDeliveryOptions.opened`). */
  deliveryOpened?: ((id: ConnectionId) => void) | undefined;
  /** Wraps the sockets as the host's transport (a platform that watches what goes out). */
  transport?: ((sockets: SocketRegistry) => Transport) | undefined;
  now?: (() => number) | undefined;
  /** The hub's name when it is known only later (a Durable Object learns it per request). */
  hubName?: (() => string) | undefined;
  /** The platform's default PING window when the settings give none (ms). */
  pingWindow?: number | PingWindow | undefined;
  application?: Pick<ApplicationOptions, 'schedule' | 'hookRecheck'> | undefined;
  /** Private routes open without a token (a server bound to loopback; an object behind the Worker's guard). */
  openWithoutToken: boolean;
  ready?: () => boolean;
  /** Log lines go out only while this says so (not while a shutdown lets go of kept connections). */
  logging?: () => boolean;
  onResume?: (id: ConnectionId) => void;
  /** The inspector and the platform's own routes. */
  extend?: (app: Hono, host: Host) => void;
  /** A hub spread over processes (runtime/cluster/): the other processes, sessions held there, `/healthz`. */
  cluster?: (RemoteHub & ClusterGauges & { claim: RemoteSession }) | undefined;
  /** A hub spread over Durable Objects (adapters/cloudflare/shards.ts): the other shards. */
  shards?: RemoteHub | undefined;
}

export interface AssembledHub {
  host: Host;
  application: Application;
  /** Delivery mode's links: frames of a socket go in through `delivery.receive`. */
  delivery: HubDelivery;
  sockets: SocketRegistry;
  gate: ConnectGate;
  app: Hono;
  /** What `/metrics` answers; a platform tells it when its timer woke (`woke`). */
  metrics: HubMetrics;
  /** Presence for peers, when the hub's `presence` setting is on. */
  presence: PresenceFeed | undefined;
}

export function assembleHub(options: HubOptions, platform: HubPlatform): AssembledHub {
  const interval = options.interval ?? DEFAULTS.interval;
  const count = options.count ?? DEFAULTS.count;
  const log = options.log;
  const sockets = new SocketRegistry();
  const name = options.hub ?? DEFAULTS.hub;
  let application: Application | undefined;
  let delivery: HubDelivery | undefined;
  // A durable store deletes a connection's snapshot together with the events that report its
  // end. Without one (memory), nothing outlives the process anyway: the host keeps its own.
  const store = platform.store ? new DeferredDeleteStore(platform.store) : undefined;
  const pingWindow = options.pingWindow ?? platform.pingWindow;
  const metrics = new HubMetrics();
  const metered = options.metrics ?? true;
  const host = new Host({
    codecs: createCodec,
    ...(metered ? { onPong: metrics.pong } : {}),
    transport: deliveryTransport(() => delivery, platform.transport?.(sockets) ?? sockets),
    ...(store ? { store } : {}),
    ...(platform.now ? { now: platform.now } : {}),
    onNextWake: platform.onNextWake,
    onMessage: (id, data, at, tag) => application?.message(id, data, at, tag),
    defaults: {
      interval,
      count,
      sendPings: options.sendPings ?? DEFAULTS.sendPings,
      advertiseTimeout: options.advertiseTimeout !== undefined ? options.advertiseTimeout : defaultAdvertiseTimeout(interval, count),
    },
    ...(options.inspect ? { inspect: options.inspect } : {}),
    ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
    maxPingsPerInterval: options.maxPingsPerInterval ?? DEFAULTS.maxPingsPerInterval,
    maxFrameBytes: options.maxFrameBytes ?? DEFAULTS.maxFrameBytes,
    ...(pingWindow !== undefined ? { pingWindow } : {}),
    ...(log || options.onEvent
      ? {
          onEvent: (event: HostEvent) => {
            if (log && (platform.logging?.() ?? true)) logEvent(event, log, options.logFormat, platform.hubName?.() ?? name);
            options.onEvent?.(event);
          },
          // The log prints lifecycle lines only: per-frame events are made only for a caller's onEvent.
          onEventFrames: options.onEvent !== undefined,
        }
      : {}),
  });
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULTS.maxFrameBytes;
  delivery = new HubDelivery({
    host,
    limits: { messages: options.deliveryWindow ?? DEFAULTS.deliveryWindow, bytes: options.deliveryWindowBytes ?? DEFAULTS.deliveryWindowBytes },
    store: platform.deliveries,
    maxFrameBytes,
    deliver: (id, data, seq) => application?.message(id, data, Date.now(), undefined, seq),
    opened: platform.deliveryOpened,
  });
  application = new Application({
    delivery,
    host,
    sockets,
    deferredDeletes: store,
    hub: platform.hubName ?? name,
    hooks: options.hooks,
    webhook: options.webhook,
    events: platform.events,
    ...(platform.now ? { now: platform.now } : {}),
    ...platform.application,
    report: log ?? ((line) => console.error(`keepalive: ${line}`)),
    remote: platform.cluster ?? platform.shards,
    ...(metered ? { onHook: metrics.hook } : {}),
  });
  if (metered) metrics.attach(host, application, platform.cluster);
  // After the application's own listener, which reads what a dead peer never acknowledged.
  host.subscribe((event) => (event.type === 'dead' || event.type === 'closed') && delivery.forget(event.id, true), { frames: false });
  const cluster = platform.cluster;
  const presence = options.presence ? presenceFeed(options, platform, host, sockets, application) : undefined;
  const gate = new ConnectGate({
    host,
    sockets,
    application,
    delivery,
    onResume: platform.onResume,
    remoteSession: cluster && ((hash) => cluster.claim(hash)),
    presence: presence !== undefined,
    // After the platform accepted the socket (a Durable Object accepts it after binding it).
    onAttached: presence && ((id) => queueMicrotask(() => presence.attached(id))),
  });
  const app = hubRoutes({
    host,
    application,
    gate,
    accept: platform.accept({ host, sockets, gate, delivery, presence }),
    token: options.token,
    openWithoutToken: platform.openWithoutToken,
    ...(platform.ready ? { ready: platform.ready } : {}),
    cluster,
    metrics: metered ? () => metrics.render() : undefined,
    extend: (app) => platform.extend?.(app, host),
  });
  return { host, application, delivery, sockets, gate, app, metrics, presence };
}

function presenceFeed(options: HubOptions, platform: HubPlatform, host: Host, sockets: SocketRegistry, application: Application): PresenceFeed {
  const parts = platform.cluster ?? platform.shards;
  return new PresenceFeed({
    host,
    ...(parts ? { here: () => parts.here } : {}),
    send: (id, frame) => {
      const socket = sockets.get(id);
      socket?.send(frame);
      return socket !== undefined;
    },
    validate: application.presenceVerdict,
    maxStateBytes: options.presenceStateBytes ?? DEFAULTS.presenceStateBytes,
    states: platform.presenceStates,
    changed: platform.presenceChanged,
    timers: platform.presenceTimers,
    ...(platform.now ? { now: platform.now } : {}),
    report: options.log ?? ((line) => console.error(`keepalive: ${line}`)),
  });
}

/** The host's transport: through delivery mode's links once they exist (the host is made first). */
function deliveryTransport(delivery: () => HubDelivery | undefined, inner: Transport): Transport {
  let wrapped: Transport | undefined;
  const through = (): Transport => {
    const hub = delivery();
    return wrapped ?? (hub ? (wrapped = hub.transport(inner)) : inner);
  };
  return {
    send: (id, frame) => through().send(id, frame),
    close: (id, cause) => inner.close(id, cause),
  };
}

/** One log line per event an operator cares about (not per frame), as text or JSON. */
export function logEvent(event: HostEvent, log: (line: string) => void, format: LogFormat = 'text', hub: string = DEFAULTS.hub): void {
  if (format === 'json') {
    const record = eventRecord(event, hub);
    if (record) log(JSON.stringify(record));
    return;
  }
  const line = eventLine(event);
  if (line !== undefined) log(line);
}
