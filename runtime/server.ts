/**
 * What a long-running server (Node, Deno) builds the same way whatever its sockets: the
 * Host from the server's settings (defaults, limits, log lines) and the shared Hono app
 * with the inspector mounted by the same rule. An adapter adds its listeners, its one
 * timer and its store.
 */
import type { Hono } from 'hono';
import { createApp, inspectorByDefault, isLoopback, type AppOptions } from './app.ts';
import { Application } from './application/application.ts';
import { EndingStore } from './application/ending-store.ts';
import type { EventStore } from './application/events.ts';
import type { Hooks } from './application/types.ts';
import type { WebhookOptions } from './application/webhook.ts';
import type { SocketRegistry } from './sockets.ts';
import { DEFAULT_SERVER, logEvent } from './cli.ts';
import { defaultAdvertiseTimeout, DEFAULT_MAX_FRAME_BYTES, Host, type HostEvent, type HostOptions, type InspectObserver, type PingWindow } from './host.ts';
import { inspectorRoutes } from './inspector/index.ts';
import type { TimerApi } from './wake-timer.ts';

export interface ServerSettingsOptions {
  /** Interface the listeners bind to. Default 127.0.0.1. */
  host?: string;
  /** HTTP/WebSocket port. Default 8787; 0 picks a free one. */
  port?: number;
  /** Our keepalive interval, ms. Default 5000. */
  interval?: number;
  /** Unanswered PINGs before a peer is dead. Default 5. */
  count?: number;
  /** false: never PING, never declare death; PINGs are still answered. Default true. */
  sendPings?: boolean;
  /**
   * ms a peer has to ADVERTISE before it is closed, so idle sockets cannot fill
   * `maxConnections`. Default interval*(count+1); 0 or null: wait forever.
   */
  advertiseTimeout?: number | null;
  /** XState inspection observer, handed to the Host (steps every frame). */
  inspect?: InspectObserver;
  /**
   * Guards GET /actors, /presence and the inspector. Without one, they are open on
   * loopback and answer 403 on any other interface.
   */
  token?: string;
  /** The application's hooks: authorize, onOpen, onMessage, onDead, onClose (docs/hooks.md). */
  hooks?: Hooks;
  /** POST each open, dead and closed event here, signed, at least once (docs/hooks.md). */
  webhook?: WebhookOptions;
  /** The hub's name in events and webhooks. Default `default`. */
  hub?: string;
  maxConnections?: number;
  /**
   * ms a PING may leave before and after its due time, or `{ early, late }`, stamped at it
   * so deaths stay exact (`HostOptions.pingWindow`). Default 0: every PING at its own
   * deadline. A window makes bursts (one wake PINGs every connection due within it): fewer
   * wakes, but a longer event-loop turn per burst (figure 9's notes: at 10,000 connections
   * a quarter-interval window cost no less CPU per PING and held the loop 100-300 ms).
   */
  pingWindow?: number | PingWindow;
  /** PINGs a peer may send within one of our intervals before it is closed as a flood. Default 100; 0 = no limit. */
  maxPingsPerInterval?: number;
  /** Largest frame accepted (text message or libvirt frame), bytes. Default 1 MiB. */
  maxFrameBytes?: number;
  onEvent?: (event: HostEvent) => void;
  /** One line per notable event (connections closed, rejected, dead). Default: none. */
  log?: (line: string) => void;
  /**
   * Serve the inspector page at /inspect (gated by `token` when one is set). Default: on
   * when bound to loopback or when a token is set, off on an open interface without one.
   */
  inspector?: boolean;
  /** Mount more routes on the shared app before it serves. */
  extend?: (app: Hono) => void;
  /** For tests: the timer API the one process timer uses. */
  timers?: TimerApi;
}

/** The platform's parts of the Host; `logging` false holds back log lines (a shutdown in progress). */
export type ServerHostParts = Pick<HostOptions, 'transport' | 'store' | 'onNextWake' | 'onMessage'> & { logging?: () => boolean };

export function serverHost(options: ServerSettingsOptions, parts: ServerHostParts): Host {
  const interval = options.interval ?? DEFAULT_SERVER.interval;
  const count = options.count ?? DEFAULT_SERVER.count;
  const log = options.log ?? (() => {});
  return new Host({
    transport: parts.transport,
    ...(parts.store ? { store: parts.store } : {}),
    ...(parts.onNextWake ? { onNextWake: parts.onNextWake } : {}),
    ...(parts.onMessage ? { onMessage: parts.onMessage } : {}),
    defaults: {
      interval,
      count,
      sendPings: options.sendPings ?? DEFAULT_SERVER.sendPings,
      advertiseTimeout: options.advertiseTimeout !== undefined ? options.advertiseTimeout : defaultAdvertiseTimeout(interval, count),
    },
    ...(options.inspect ? { inspect: options.inspect } : {}),
    ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
    ...(options.maxPingsPerInterval !== undefined ? { maxPingsPerInterval: options.maxPingsPerInterval } : {}),
    ...(options.pingWindow !== undefined ? { pingWindow: options.pingWindow } : {}),
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    onEvent: (event) => {
      if (parts.logging?.() ?? true) logEvent(event, log);
      options.onEvent?.(event);
    },
    // The log prints lifecycle lines only: per-frame events are made only for a caller's onEvent.
    onEventFrames: options.onEvent !== undefined,
  });
}

/**
 * A server's Host and its application layer together: application frames go from the
 * Host to the hooks. Call `application.start()` once the host restored its connections.
 */
export function serverHostWithApplication(
  options: ServerSettingsOptions,
  parts: Omit<ServerHostParts, 'onMessage' | 'transport'> & { sockets: SocketRegistry; events?: EventStore },
): { host: Host; application: Application } {
  let application: Application | undefined;
  const { sockets, events, store, ...hostParts } = parts;
  // A durable store deletes a connection's snapshot together with the events that report its
  // end. Without one (memory), nothing outlives the process anyway: the host keeps its own.
  const ending = store ? new EndingStore(store) : undefined;
  const host = serverHost(options, {
    ...hostParts,
    ...(ending ? { store: ending } : {}),
    transport: sockets,
    onMessage: (id, data, at, tag) => application?.message(id, data, at, tag),
  });
  application = new Application({
    host,
    sockets,
    ending,
    hub: options.hub ?? 'default',
    hooks: options.hooks,
    webhook: options.webhook,
    events,
    report: options.log ?? ((line) => console.error(`keepalive: ${line}`)),
  });
  return { host, application };
}

/** The shared app, with the inspector where `inspectorByDefault` (or `options.inspector`) says. */
export function serverApp(options: ServerSettingsOptions, app: Omit<AppOptions, 'token' | 'extend'>): Hono {
  const bind = options.host ?? DEFAULT_SERVER.host;
  const token = options.token ? { token: options.token } : {};
  return createApp({
    ...app,
    ...token,
    openWithoutToken: isLoopback(bind),
    extend: (shared) => {
      if (options.inspector ?? inspectorByDefault(bind, options.token)) shared.route('/', inspectorRoutes({ host: app.host, ...token }));
      options.extend?.(shared);
    },
  });
}
