/**
 * The host's public types: what it takes (`HostOptions`, `OpenOptions`, a `Transport`),
 * what it reports (`HostEvent`) and how it shows a connection (`ConnectionView`).
 */
import type { InspectionEvent, Observer } from 'xstate';
import type { CodecFactory } from './codecs.ts';
import type { KeepaliveContext, KeepaliveEvent, KeepaliveMessage, KeepaliveOptions, Role } from '../../actors/keepalive.ts';
import type { CodecSpec, Frame, FrameError, Inbound } from '../codec/index.ts';
import type { ConnectionId, SnapshotStore } from './store.ts';
import type { EndCause } from '../protocol/index.ts';

/** Carries frames out of the host. Adapters map ids to their sockets. */
export interface Transport {
  send(id: ConnectionId, frame: Frame): void;
  /** Close the socket for `cause` (its close frame: `closeFrame(cause)`); the host has already let go of `id`. */
  close(id: ConnectionId, cause: EndCause): void;
}

export type HostEvent =
  | { type: 'opened'; id: ConnectionId; at: number; role: Role; meta: Readonly<Record<string, string>> }
  | { type: 'received'; id: ConnectionId; at: number; message: Inbound }
  | { type: 'sent'; id: ConnectionId; at: number; message: KeepaliveMessage }
  /** `reason` is `endText(cause)`: for people; decide by `cause`. */
  | { type: 'dead'; id: ConnectionId; at: number; silentFor: number; unanswered: number; cause: EndCause; reason: string; meta: Readonly<Record<string, string>> }
  | { type: 'closed'; id: ConnectionId; at: number; cause: EndCause; reason: string; meta: Readonly<Record<string, string>> }
  | { type: 'rejected'; id: ConnectionId; at: number; code: FrameError['code']; reason: string }
  /**
   * After every statechart step, only while a `watch` listener is attached: the event the
   * machine took (`start` for its first step), the state before and after, and the
   * connection as it now is. The inspector's chart highlight and timeline follow these.
   */
  | { type: 'stepped'; id: ConnectionId; at: number; event: KeepaliveEvent['type'] | 'start'; from: string | null; state: string; connection: ConnectionView };

export type InspectObserver = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

export interface HostOptions {
  transport: Transport;
  /** The clock, in ms. Default `Date.now`; tests pass a fake one. */
  now?: () => number;
  store?: SnapshotStore;
  /** XState's inspection observer, e.g. `createWebSocketInspector().inspect`. Implies `eager`. */
  inspect?: InspectObserver;
  /** Step the statechart for every frame instead of folding signs of life. */
  eager?: boolean;
  /** Defaults for every connection opened on this host (libvirtd: 5000 ms, 5, pings on). */
  defaults?: Partial<KeepaliveOptions>;
  /** Largest frame accepted, in bytes (text frames and whole libvirt frames). */
  maxFrameBytes?: number;
  /**
   * Makes each dialect's codec. Default: the text dialect only (a page's host bundles no
   * libvirt framing); `createCodec` (from `keepalive-actors`) speaks libvirt too, over a
   * WebSocket or a byte stream (`stream: true`).
   */
  codecs?: CodecFactory;
  onEvent?: (event: HostEvent) => void;
  /**
   * false: `onEvent` gets no per-frame events (`received`, `sent`), only what happens to
   * connections. Default true. A log that prints lifecycle lines should say false: each
   * per-frame event is an object made for every frame in and out.
   */
  onEventFrames?: boolean;
  /**
   * Every application frame (one that is not keepalive), with its data, after it was
   * recorded as a sign of life. Keepalive frames never come here, and the fast path stays:
   * a message still costs no statechart step. `tag` is what `Host.tag` keeps with the
   * connection (the application layer's handle), so no lookup by id is needed per frame.
   */
  onMessage?: (id: ConnectionId, data: Frame, at: number, tag: unknown) => void;
  /**
   * The peer answered our last PING: `rtt` ms after it left. Once per answered PING (a
   * second PONG before the next PING is not counted); costs nothing when not given.
   */
  onPong?: (id: ConnectionId, rtt: number) => void;
  generateId?: () => ConnectionId;
  /**
   * PINGs a peer may send within one of our intervals before it is closed as a flood.
   * A well-behaved peer sends about one per its own interval. Default 100; 0 = no limit.
   */
  maxPingsPerInterval?: number;
  /** Open connections allowed at once; `open` throws a `CapacityError` past it. */
  maxConnections?: number;
  /**
   * Where to arm the one platform timer: called with `nextWake()` after every `tick`, and
   * after any other call that moved the earliest deadline. Folding signs of life only
   * moves deadlines later, so a timer armed earlier just fires early and is re-armed.
   */
  onNextWake?: (at: number | null) => void;
  /**
   * ms around a PING's due time within which it may leave, for fewer wakes: a number for
   * as much either side, or `{ early, late }`. A tick also sends the PINGs due within
   * `early` ahead, and a timer may wake up to `late` after a PING's due time: `nextWake()`
   * reports a connection whose next tick would PING at its deadline plus `late`, and one
   * whose next tick is a death or an ADVERTISE deadline at the deadline itself. Either way
   * the PING is stamped at its due time, so the machine anchors the next interval, and
   * every death, exactly where it would without the window: a death is never early and
   * never later. A peer just gets our PING a little early or late, and answers it. Each
   * side is capped at a quarter of a connection's interval. Default 0: every PING at its
   * deadline.
   *
   * `late` saves wakes where peers PING us (a Durable Object's alarm: their PINGs push
   * ours later before it fires); `early` gathers our PINGs into bursts, where each wake
   * and each write to an idle peer costs (a Node server: figure 9).
   */
  pingWindow?: number | PingWindow;
}

/** See `HostOptions.pingWindow`. */
export interface PingWindow {
  /** ms a PING may leave before its due time. */
  early: number;
  /** ms a PING may leave after its due time. */
  late: number;
}

/** Thrown by `Host.open` when the host holds `maxConnections` already. */
export class CapacityError extends Error {
  override readonly name = 'CapacityError';
}

export interface OpenOptions extends Partial<KeepaliveOptions> {
  role: Role;
  id?: ConnectionId;
  codec?: CodecSpec;
  /** Frames arrive as a byte stream to be split by length word (TCP, UNIX sockets). */
  stream?: boolean;
  advertise?: boolean;
  awaitAdvertise?: boolean;
  /** Step every frame of this connection (debugging one peer). */
  eager?: boolean;
  meta?: Readonly<Record<string, string>>;
  at?: number;
}

/** A connection as `/actors` and the inspector show it. */
export interface ConnectionView
  extends Pick<
    KeepaliveContext,
    | 'role'
    | 'interval'
    | 'count'
    | 'sendPings'
    | 'lastSignOfLife'
    | 'unanswered'
    | 'wakeAt'
    | 'advertised'
    | 'pingsSent'
    | 'pongsSent'
    | 'pingsReceived'
    | 'pongsReceived'
    | 'messagesReceived'
  > {
  id: ConnectionId;
  state: string;
  codec: CodecSpec['name'];
  meta: Readonly<Record<string, string>>;
}

/** Counters a test or a benchmark can assert on. */
export interface HostStats {
  steps: number;
  foldedFrames: number;
  pongsOnFastPath: number;
  rejected: number;
}
