/**
 * The HTTP routes every runtime serves, written once against web standards (Hono):
 * Node, Deno and the Cloudflare Worker mount this same app. The WebSocket upgrade is
 * the one platform-specific piece, passed in as Hono's `upgradeWebSocket`.
 */
import { Hono } from 'hono';
import type { Context, MiddlewareHandler } from 'hono';
import type { UpgradeWebSocket, WSContext } from 'hono/ws';
import type { Host, OpenOptions } from './host.ts';
import type { PeerSocket, SocketRegistry } from './sockets.ts';
import { closeCode, closeReason } from './sockets.ts';
import { hashSessionSecret, isSessionSecret, outlivesSocket, SESSION_META, SESSION_PARAM, SessionIndex } from './sessions.ts';
import type { ConnectionId } from './store.ts';
import type { Frame } from './codec/index.ts';
import { isResponse, PEER_META, type Admitted } from './application/peer.ts';
import { presenceOf, type Application } from './application/application.ts';

export interface AppOptions {
  host: Host;
  sockets: SocketRegistry;
  /** The platform's Hono WebSocket helper (`@hono/node-ws`, `hono/deno`). */
  upgradeWebSocket?: UpgradeWebSocket;
  /** Per-connection settings for server actors opened at `/connect`. */
  connection?: (c: Context) => Omit<OpenOptions, 'role'>;
  /** `/healthz` answers 503 until this says the listeners are up. */
  ready?: () => boolean;
  /** When set, `/actors`, `/presence` (and the inspector) need `Authorization: Bearer <token>` or `?token=`. */
  token?: string;
  /**
   * Without a token, `/actors` and `/presence` answer 403 unless this is true: a server
   * bound to loopback may show them openly, one on an open interface (or a Worker) may not.
   * Default false.
   */
  openWithoutToken?: boolean;
  /** Hooks, identity and presence: `/connect` is admitted through it. */
  application?: Application;
  /** Extra routes (the inspector) mounted by whoever owns them. */
  extend?: (app: Hono) => void;
  /** Session secrets of the host's connections; default: indexed from the host as it is now. */
  sessions?: SessionIndex;
  /** A peer reattached a new socket to its restored connection. */
  onResume?: (id: ConnectionId) => void;
  /**
   * The platform's own line to an upgraded socket, past Hono's wrapper: frames in without a
   * `MessageEvent` made for each, frames out without two wrapping calls (Node: `ws`; figure
   * 9). Without it, frames go through Hono's `onMessage` and `WSContext.send`.
   */
  direct?: (ws: WSContext) => DirectSocket;
}

/** An upgraded socket as the platform has it: see `AppOptions.direct`. */
export interface DirectSocket {
  send(frame: Frame): void;
  /** Writes what `send` may still hold, before a close. */
  flush?(): void;
  /** Calls `onFrame` with every frame from now on (text as a string, binary as bytes). */
  listen(onFrame: (data: Frame) => void): void;
}

/** The session hash a `/connect` request presented, computed before the upgrade. */
const presented = new WeakMap<Request, string>();
/** Who the peer of a `/connect` request is, decided before the upgrade. */
const admitted = new WeakMap<Request, Admitted>();

export function createApp(options: AppOptions): Hono {
  const { host, sockets } = options;
  const app = new Hono();

  app.get('/healthz', (c) => {
    const ready = options.ready?.() ?? true;
    return c.json({ ok: ready, connections: host.size }, ready ? 200 : 503);
  });

  const guard = privateRoute(options.token, options.openWithoutToken ?? false);
  app.get('/actors', guard, (c) => c.json(host.list()));
  app.get('/presence', guard, (c) => c.json(options.application?.presence() ?? presenceOf(host)));

  if (options.upgradeWebSocket) {
    const sessions = options.sessions ?? new SessionIndex(host);
    const attached = (id: ConnectionId) => sockets.get(id) !== undefined;
    app.get(
      '/connect',
      async (c, next) => {
        const admission = options.application ? await options.application.admit(c.req.raw) : undefined;
        if (isResponse(admission)) return admission;
        if (admission) admitted.set(c.req.raw, admission);
        const secret = c.req.query(SESSION_PARAM);
        if (secret === undefined) return host.atCapacity ? c.json({ error: 'connection limit reached' }, 503) : next();
        if (!isSessionSecret(secret)) return c.json({ error: 'a session secret is 16 to 128 characters of A-Z a-z 0-9 _ -' }, 400);
        const hash = await hashSessionSecret(secret);
        const claim = sessions.claim(hash, attached);
        // Never two sockets on one actor, and never someone else's live connection.
        if (claim.kind === 'attached') return c.json({ error: 'this session is attached to a live connection' }, 409);
        if (claim.kind === 'new' && host.atCapacity) return c.json({ error: 'connection limit reached' }, 503);
        presented.set(c.req.raw, hash);
        return next();
      },
      options.upgradeWebSocket((c) => {
        let id: string | undefined;
        let mine: PeerSocket | undefined;
        const hash = presented.get(c.req.raw);
        const admission = admitted.get(c.req.raw);
        const direct = options.direct;
        const receive = (data: Frame) => {
          if (id === undefined || sockets.get(id) !== mine) return;
          host.receive(id, data);
        };
        return {
          onOpen(_event, ws) {
            const line = direct?.(ws);
            line?.listen(receive);
            mine = socketOf(ws, line);
            // Decided again now: another socket may have claimed the session since the check.
            const claim = hash === undefined ? ({ kind: 'new' } as const) : sessions.claim(hash, attached);
            if (claim.kind === 'attached') {
              ws.close(4409, 'this session is attached to a live connection');
              return;
            }
            if (claim.kind === 'resume') {
              id = claim.id;
              sockets.attach(id, mine);
              // The peer just proved it is alive; its counters and deadlines carry on.
              host.noteSignOfLife(id, Date.now());
              options.onResume?.(id);
              return;
            }
            try {
              const connection = options.connection?.(c);
              const meta = {
                ...connection?.meta,
                ...admission?.meta,
                ...(admission?.peer != null ? { [PEER_META]: admission.peer } : {}),
                ...(hash === undefined ? {} : { [SESSION_META]: hash }),
              };
              id = host.open({ ...connection, ...(Object.keys(meta).length > 0 ? { meta } : {}), role: 'server' });
            } catch (error) {
              // Filled up between the check above and the upgrade.
              ws.close(1013, closeReason(String(error instanceof Error ? error.message : error)));
              return;
            }
            if (hash !== undefined) sessions.add(hash, id);
            sockets.attach(id, mine);
          },
          // Left out when the platform hands frames over directly: Hono then makes no event per frame.
          ...(direct
            ? {}
            : {
                onMessage(event: MessageEvent, ws: WSContext) {
                  const data: unknown = event.data;
                  if (typeof data === 'string') receive(data);
                  else if (data instanceof ArrayBuffer) receive(new Uint8Array(data));
                  else if (ArrayBuffer.isView(data)) receive(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
                  else ws.close(1003, 'unsupported frame');
                },
              }),
          onClose(event) {
            // Not ours (any more): refused, already closed by the host, or let go on a restart.
            if (id === undefined || sockets.get(id) !== mine) return;
            sockets.detach(id);
            if (outlivesSocket(host, id, event.code)) return;
            host.peerClosed(id, event.reason ? `peer closed: ${event.reason}` : undefined);
          },
          onError() {
            if (id === undefined || sockets.get(id) !== mine) return;
            sockets.detach(id);
            if (outlivesSocket(host, id, 1006)) return;
            host.peerClosed(id, 'socket error');
          },
        };
      }),
    );
  }

  options.extend?.(app);
  return app;
}

/** Frames out through the platform's direct line when it has one (which writes what it holds before a close), else through Hono's. */
function socketOf(ws: WSContext, line?: DirectSocket): PeerSocket {
  const close = (reason: string) => ws.close(closeCode(reason), closeReason(reason));
  if (!line) return { send: (frame) => ws.send(typeof frame === 'string' ? frame : (frame as Uint8Array<ArrayBuffer>)), close };
  return {
    send: (frame) => line.send(frame),
    close: (reason) => {
      line.flush?.();
      close(reason);
    },
  };
}

/** Lets a request through only with the configured token; no token configured, no check. */
export function requireToken(token: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (token === undefined || token === '') return next();
    const presented = c.req.header('authorization')?.replace(/^Bearer\s+/i, '') ?? c.req.query('token') ?? '';
    if (!sameSecret(presented, token)) return c.json({ error: 'a valid token is required' }, 401);
    return next();
  };
}

/**
 * `/actors` and `/presence`: with a token, only with it; without one, open only where the
 * server said so (loopback), else 403. Connection state is never public by default.
 */
export function privateRoute(token: string | undefined, openWithoutToken: boolean): MiddlewareHandler {
  const withToken = requireToken(token);
  return async (c, next) => {
    if ((token === undefined || token === '') && !openWithoutToken) {
      return c.json({ error: 'this route is off: set a token (--token, KEEPALIVE_TOKEN) to enable it' }, 403);
    }
    return withToken(c, next);
  };
}

/** Compares in time independent of where the strings differ, so the token cannot be guessed byte by byte. */
function sameSecret(presented: string, expected: string): boolean {
  const a = new TextEncoder().encode(presented);
  const b = new TextEncoder().encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i % Math.max(a.length, 1)] ?? 0) ^ b[i]!;
  return diff === 0;
}

/** Loopback only, or a token: an inspector on an open interface would show every peer to anyone. */
export function inspectorByDefault(bind: string, token: string | undefined): boolean {
  if (token) return true;
  return isLoopback(bind);
}

export function isLoopback(bind: string): boolean {
  return bind === 'localhost' || bind === '::1' || bind === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(bind);
}
