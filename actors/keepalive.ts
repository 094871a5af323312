/**
 * The keepalive statechart: libvirt's keepalive protocol (src/rpc/virkeepalive.c,
 * design: libvir-list, "Define keepalive protocol", 2011) as one pure XState machine
 * per peer connection.
 *
 * Pure: no `after`, no timers, no clock. Every event carries `at` (ms) and the
 * machine publishes `context.wakeAt`, the next time it wants a `tick`. The host owns
 * the clock and carries out what the machine emits (`send`, `dead`, `closed`).
 *
 * The rule, as in virkeepalive.c: any inbound message is a sign of life and resets
 * both the silence timer and the unanswered-PING count. After `interval` of silence
 * (since the last sign of life or the last PING) the side sends a PING; when `count`
 * PINGs are unanswered and one more interval passes, the peer is dead. A peer silent
 * since `t` is therefore declared dead at exactly `t + interval * (count + 1)`.
 *
 * Two additions to libvirt. A server may give a peer `advertiseTimeout` ms to ADVERTISE:
 * libvirt needs none (a client there speaks first, with a call), but a socket that never
 * advertises would otherwise hold its place forever. Missing that deadline closes the
 * connection; it sends nothing keepalive, so "nothing before ADVERTISE" still holds. And a
 * host that resumes connections it was not watching (a restart, a takeover) sends `hold`,
 * so a verdict waits until a live peer could have been heard again.
 */
import { assign, emit, enqueueActions, setup, type SnapshotFrom } from 'xstate';
import type { EndCause } from '../runtime/protocol/end-cause.ts';

export type Role = 'client' | 'server';
export type KeepaliveMessage = 'ADVERTISE' | 'PING' | 'PONG';

/** One side's own keepalive settings; each side has its own (libvirtd: 5000 ms, 5). */
export interface KeepaliveOptions {
  /** ms of silence from the peer before this side sends a PING. */
  interval: number;
  /** PINGs left unanswered before the peer is declared dead (0: dead after one silent interval). */
  count: number;
  /** false: this side never PINGs and never declares death, but still answers PINGs. */
  sendPings: boolean;
  /**
   * ms to wait for the peer's ADVERTISE (while awaiting it) before closing the connection.
   * Counted from the start; signs of life before ADVERTISE do not extend it. null, 0 or
   * absent: wait forever, as libvirt does.
   */
  advertiseTimeout?: number | null;
}

export interface KeepaliveInput extends KeepaliveOptions {
  role: Role;
  /** ms, when the connection opened: the first silence is measured from here. */
  at: number;
  /** Send our ADVERTISE on start. Default: clients do, servers don't. */
  advertise?: boolean;
  /**
   * Send nothing keepalive until the peer's ADVERTISE. Default: servers do (the protocol
   * forbids a server to speak first); a libvirt-dialect client does too, since there the
   * remote program's supports-feature reply stands in for the daemon's ADVERTISE.
   */
  awaitAdvertise?: boolean;
}

/** Inbound frames a host handled without stepping the machine, folded into one `peer.message`. */
export interface FoldedFrames {
  pings?: number;
  pongs?: number;
  messages?: number;
}

export type KeepaliveEvent =
  | { type: 'peer.advertise'; at: number }
  | { type: 'peer.ping'; at: number }
  | { type: 'peer.pong'; at: number }
  /**
   * Any other inbound message; a host may fold many frames into one (`folded`, `at` = the
   * latest). With `tick`, a host's tick at that time follows in the same step: where the
   * PING it would send is due by then, it goes out stamped `tick`, exactly as a
   * `peer.message` then a `tick` would do, in one step instead of two.
   */
  | { type: 'peer.message'; at: number; folded?: FoldedFrames; tick?: number }
  | { type: 'tick'; at: number }
  /**
   * Holds back a verdict until `until`, sent by a host that was not watching the peer: one
   * restarted, or one taking over a dead process's connections. It may have lost signs of
   * life since the last stored step (the PONG to our last PING), and a live peer whose
   * socket died with the process needs a moment to reattach. Where the next due tick would
   * declare the peer dead and is due before `until`, it moves to `until`; a PING keeps its
   * time (a late PING already gives the peer a full interval), an ADVERTISE deadline too
   * (admission, not a verdict), and nothing else changes. virkeepalive.c has no such event:
   * there the keepalive lives and dies with its process.
   */
  | { type: 'hold'; at: number; until: number }
  /** This side closes; `cause` says why (default: closed locally). */
  | { type: 'close'; at: number; cause?: EndCause }
  /** The peer's socket is gone; `cause` says how (default: it closed the connection). */
  | { type: 'peer.closed'; at: number; cause?: EndCause };

export type KeepaliveEmitted =
  | { type: 'send'; message: KeepaliveMessage }
  | { type: 'dead'; at: number; silentFor: number; unanswered: number }
  | { type: 'closed'; at: number; cause: EndCause };

export interface KeepaliveContext extends KeepaliveOptions {
  role: Role;
  /** Resolved from the input: null when there is no deadline. */
  advertiseTimeout: number | null;
  /** Resolved from the input (role defaults applied). */
  advertise: boolean;
  awaitAdvertise: boolean;
  startedAt: number;
  /** virkeepalive.c `lastPacketReceived`. */
  lastSignOfLife: number;
  /**
   * virkeepalive.c `intervalStart`: the last sign of life or the last PING sent. Before
   * ADVERTISE: when the wait for it began (the ADVERTISE deadline's anchor).
   */
  intervalStart: number;
  /** PINGs sent since the last sign of life (virkeepalive.c: count - countToDeath). */
  unanswered: number;
  /** Next time this machine needs a `tick`; null while it has nothing to time. */
  wakeAt: number | null;
  advertised: boolean;
  pingsSent: number;
  pongsSent: number;
  pingsReceived: number;
  pongsReceived: number;
  messagesReceived: number;
}

/** States carrying this tag answer a PING with a PONG; a host may do so without a step. */
export const ANSWERS_PING = 'answersPing';
/** States carrying this tag time the peer: their due `tick` PINGs it or declares it dead. */
export const TIMES_PEER = 'timesPeer';

/** This side sends PINGs at all (and so may judge the peer). */
export const pingsToSend = (context: KeepaliveContext): boolean => context.sendPings && context.count > 0;
/** `count` PINGs are out unanswered: the next due tick declares the peer dead. */
export const peerExhausted = (context: KeepaliveContext): boolean => context.unanswered >= context.count;
/** `at` lies before the current interval began: the clock stepped back (NTP), or a late stamp. */
export const beforeInterval = (context: KeepaliveContext, at: number): boolean => at < context.intervalStart;

/** What a host may ask of a snapshot, without comparing state names. */
interface RuleSnapshot {
  context: KeepaliveContext;
  hasTag(tag: typeof ANSWERS_PING | typeof TIMES_PEER): boolean;
}

/**
 * After a sign of life, the next due tick sends a PING whatever the unanswered count (a
 * sign of life resets it): the peer is timed and this side has PINGs to send. A host that
 * folds frames lazily uses this to know where the next PING falls without a step.
 */
export function pingsAfterSignOfLife(snapshot: RuleSnapshot): boolean {
  return snapshot.hasTag(TIMES_PEER) && pingsToSend(snapshot.context);
}

/** The next due tick sends a PING (not a verdict): timed, and the peer not yet out of PINGs. */
export function pingsOnNextTick(snapshot: RuleSnapshot): boolean {
  return pingsAfterSignOfLife(snapshot) && !peerExhausted(snapshot.context);
}

const wakeAfter = (context: KeepaliveContext, at: number): number | null =>
  context.sendPings ? at + context.interval : null;

// Snapshots stored before the deadline existed have no `advertiseTimeout`: no deadline.
const advertiseDeadline = (context: KeepaliveContext, from: number): number | null =>
  context.advertiseTimeout ? from + context.advertiseTimeout : null;

/** Counters for a sign of life, whether one event or many folded frames. */
function tallyInbound(context: KeepaliveContext, event: KeepaliveEvent, answering: boolean) {
  const folded = event.type === 'peer.message' ? event.folded : undefined;
  const pings = folded ? (folded.pings ?? 0) : event.type === 'peer.ping' ? 1 : 0;
  const pongs = folded ? (folded.pongs ?? 0) : event.type === 'peer.pong' ? 1 : 0;
  const messages = folded ? (folded.messages ?? 0) : event.type === 'peer.message' ? 1 : 0;
  return {
    pingsReceived: context.pingsReceived + pings,
    pongsReceived: context.pongsReceived + pongs,
    messagesReceived: context.messagesReceived + messages,
    // A folded PING was answered by the host exactly when this state answers PINGs.
    pongsSent: context.pongsSent + (answering && event.type === 'peer.message' ? pings : 0),
  };
}

/** A sign of life in a state that answers PINGs: the peer's silence, and our interval, start again at `at`. */
function signOfLifeUpdate(context: KeepaliveContext, event: KeepaliveEvent) {
  return { ...tallyInbound(context, event, true), lastSignOfLife: event.at, intervalStart: event.at, unanswered: 0, wakeAt: wakeAfter(context, event.at) };
}

/**
 * A PING sent with `unanswered` before it. virkeepalive.c anchors the next interval at the
 * moment the PING really left (`intervalStart = now`), so a late tick still gives the
 * peer a full interval.
 */
function pingUpdate(context: KeepaliveContext, unanswered: number, event: KeepaliveEvent) {
  const at = event.type === 'peer.message' && event.tick !== undefined ? event.tick : event.at;
  return { pingsSent: context.pingsSent + 1, unanswered: unanswered + 1, intervalStart: at, wakeAt: at + context.interval };
}

const machineSetup = setup({
  types: {
    context: {} as KeepaliveContext,
    events: {} as KeepaliveEvent,
    input: {} as KeepaliveInput,
    emitted: {} as KeepaliveEmitted,
    tags: {} as typeof ANSWERS_PING | typeof TIMES_PEER,
  },
  guards: {
    awaitsAdvertise: ({ context }) => context.awaitAdvertise,
    sendsPings: ({ context }) => context.sendPings,
    /** The host woke us before our deadline (a repeated or early alarm): nothing to do. */
    notDue: ({ context, event }) => context.wakeAt === null || event.at < context.wakeAt,
    /** A backward clock step (NTP) put `at` before the current interval began (while timing anything). */
    clockWentBack: ({ context, event }) => context.wakeAt !== null && beforeInterval(context, event.at),
    peerExhausted: ({ context }) => peerExhausted(context),
    /** `hold`: the next due tick is a verdict (`count` PINGs out, or count 0) and comes before `until`. */
    verdictBeforeUntil: ({ context, event }) =>
      event.type === 'hold' && peerExhausted(context) && context.wakeAt !== null && context.wakeAt < event.until,
    /** A folded sign of life with the host's tick behind it, by which our next PING is due. */
    pingDueAfterLife: ({ context, event }) =>
      event.type === 'peer.message' && event.tick !== undefined && pingsToSend(context) && event.tick >= event.at + context.interval,
  },
  actions: {
    advertise: emit({ type: 'send', message: 'ADVERTISE' } as const),
    markAdvertised: assign({ advertised: true }),
    startTiming: assign({ wakeAt: ({ context }) => context.startedAt + context.interval }),
    startAdvertiseDeadline: assign({ wakeAt: ({ context }) => advertiseDeadline(context, context.startedAt) }),
    /**
     * Before ADVERTISE nothing may be answered, but the frame still proves the peer alive.
     * It does not move the ADVERTISE deadline: a peer that only PINGs still has to advertise.
     */
    noteSilentSignOfLife: assign(({ context, event }) => ({
      ...tallyInbound(context, event, false),
      lastSignOfLife: event.at,
    })),
    signOfLife: assign(({ context, event }) => signOfLifeUpdate(context, event)),
    sendPong: emit({ type: 'send', message: 'PONG' } as const),
    countPong: assign({ pongsSent: ({ context }) => context.pongsSent + 1 }),
    sendPing: emit({ type: 'send', message: 'PING' } as const),
    countPing: assign(({ context, event }) => pingUpdate(context, context.unanswered, event)),
    /**
     * `signOfLife` then `countPing` as one assignment (the sign of life left none
     * unanswered): the host's step on its hot path, once per interval per answering peer.
     * XState builds a whole snapshot per assignment, so one assignment is half the garbage.
     */
    signOfLifeThenPing: assign(({ context, event }) => ({ ...signOfLifeUpdate(context, event), ...pingUpdate(context, 0, event) })),
    reanchor: assign(({ context, event }) => ({
      intervalStart: event.at,
      lastSignOfLife: Math.min(context.lastSignOfLife, event.at),
      wakeAt: wakeAfter(context, event.at),
    })),
    /** The clock went back while awaiting ADVERTISE: the whole wait starts again from `at`. */
    reanchorAdvertiseDeadline: assign(({ context, event }) => ({
      intervalStart: event.at,
      lastSignOfLife: Math.min(context.lastSignOfLife, event.at),
      wakeAt: advertiseDeadline(context, event.at),
    })),
    announceNoAdvertise: emit(({ context, event }) => ({
      type: 'closed' as const,
      at: event.at,
      cause: { cause: 'no-advertise', timeout: context.advertiseTimeout ?? 0 } as const,
    })),
    announceDead: emit(({ context, event }) => ({
      type: 'dead' as const,
      at: event.at,
      silentFor: Math.max(0, event.at - context.lastSignOfLife),
      unanswered: context.unanswered,
    })),
    announceClosed: emit(({ event }) => ({
      type: 'closed' as const,
      at: event.at,
      cause: ('cause' in event && event.cause) || (event.type === 'peer.closed' ? ({ cause: 'peer-closed' } as const) : ({ cause: 'local' } as const)),
    })),
    stopTiming: assign({ wakeAt: null }),
    holdVerdict: assign(({ context, event }) => ({ wakeAt: event.type === 'hold' ? event.until : context.wakeAt })),
  },
});

// Only live states can be closed: dead and closed are final and take no more events,
// even when a host steps a stored snapshot with the pure `transition()`.
const ending = {
  close: { target: '#keepalive.closed', actions: ['announceClosed', 'stopTiming'] },
  'peer.closed': { target: '#keepalive.closed', actions: ['announceClosed', 'stopTiming'] },
} as const;

/** A folded sign of life with the tick by which our next PING is due: one step, one assignment. */
const pingAfterLife = { guard: 'pingDueAfterLife', actions: ['sendPing', 'signOfLifeThenPing'] } as const;

/** `hold` in a state that times the peer: a verdict due before `until` waits for it. */
const holdVerdict = { guard: 'verdictBeforeUntil', actions: 'holdVerdict' } as const;

export const keepaliveMachine = machineSetup.createMachine({
  id: 'keepalive',
  context: ({ input }) => ({
    role: input.role,
    advertise: input.advertise ?? input.role === 'client',
    awaitAdvertise: input.awaitAdvertise ?? input.role === 'server',
    interval: input.interval,
    count: input.count,
    sendPings: input.sendPings,
    advertiseTimeout: input.advertiseTimeout ? input.advertiseTimeout : null,
    startedAt: input.at,
    lastSignOfLife: input.at,
    intervalStart: input.at,
    unanswered: 0,
    wakeAt: null,
    advertised: false,
    pingsSent: 0,
    pongsSent: 0,
    pingsReceived: 0,
    pongsReceived: 0,
    messagesReceived: 0,
  }),
  initial: 'opening',
  states: {
    /** Transient: decides, from the input, whether to advertise and whom to wait for. */
    opening: {
      description: 'Sends ADVERTISE if this side does, then waits or starts timing.',
      entry: enqueueActions(({ context, enqueue }) => {
        if (context.advertise) enqueue('advertise');
      }),
      always: [
        { guard: 'awaitsAdvertise', target: 'awaitingAdvertise', actions: 'startAdvertiseDeadline' },
        { guard: 'sendsPings', target: 'alive.watching', actions: 'startTiming' },
        { target: 'alive.passive' },
      ],
    },
    /**
     * The protocol forbids sending any keepalive message before the peer's ADVERTISE. With
     * an `advertiseTimeout`, a peer that has not advertised by then is closed (a transport
     * action, not a keepalive message), so idle sockets cannot hold places forever.
     */
    awaitingAdvertise: {
      description: 'Sends nothing keepalive until the peer says it speaks keepalive; closes at the ADVERTISE deadline, if set.',
      on: {
        'peer.advertise': [
          { guard: 'sendsPings', target: 'alive.watching', actions: ['markAdvertised', 'signOfLife'] },
          { target: 'alive.passive', actions: ['markAdvertised', 'signOfLife'] },
        ],
        // A PING before ADVERTISE proves the peer alive but gets no PONG: the peer has
        // not said it speaks keepalive, so nothing keepalive may be sent to it.
        'peer.ping': { actions: 'noteSilentSignOfLife' },
        'peer.pong': { actions: 'noteSilentSignOfLife' },
        'peer.message': { actions: 'noteSilentSignOfLife' },
        tick: [
          { guard: 'clockWentBack', actions: 'reanchorAdvertiseDeadline' },
          { guard: 'notDue' },
          { target: 'closed', actions: ['announceNoAdvertise', 'stopTiming'] },
        ],
        ...ending,
      },
    },
    alive: {
      description: 'Any message is a sign of life; every PING gets a PONG.',
      tags: [ANSWERS_PING],
      initial: 'watching',
      on: {
        'peer.ping': [
          { guard: 'sendsPings', target: '.watching', actions: ['sendPong', 'countPong', 'signOfLife'] },
          { target: '.passive', actions: ['sendPong', 'countPong', 'signOfLife'] },
        ],
        'peer.pong': [{ guard: 'sendsPings', target: '.watching', actions: 'signOfLife' }, { target: '.passive', actions: 'signOfLife' }],
        'peer.message': [
          { ...pingAfterLife, target: '.probing' },
          { guard: 'sendsPings', target: '.watching', actions: 'signOfLife' },
          { target: '.passive', actions: 'signOfLife' },
        ],
        'peer.advertise': [{ guard: 'sendsPings', target: '.watching', actions: ['markAdvertised', 'signOfLife'] }, { target: '.passive', actions: ['markAdvertised', 'signOfLife'] }],
        ...ending,
      },
      states: {
        /** Heard from the peer within the current interval; no PING outstanding. */
        watching: {
          description: 'Heard from the peer this interval.',
          tags: [TIMES_PEER],
          on: {
            tick: [
              { guard: 'clockWentBack', actions: 'reanchor' },
              { guard: 'notDue' },
              { guard: 'peerExhausted', target: '#keepalive.dead', actions: ['announceDead', 'stopTiming'] },
              { target: 'probing', actions: ['sendPing', 'countPing'] },
            ],
            hold: holdVerdict,
          },
        },
        /** PINGs sent and unanswered; any message from the peer ends the probe. */
        probing: {
          description: 'PINGs out, unanswered so far.',
          tags: [TIMES_PEER],
          on: {
            // As alive's, staying here: no exit and entry, so less work on the host's hot path.
            'peer.message': pingAfterLife,
            tick: [
              { guard: 'clockWentBack', actions: 'reanchor' },
              { guard: 'notDue' },
              { guard: 'peerExhausted', target: '#keepalive.dead', actions: ['announceDead', 'stopTiming'] },
              { actions: ['sendPing', 'countPing'] },
            ],
            hold: holdVerdict,
          },
        },
        /** This side's PINGs are disabled: it answers PINGs and never declares death. */
        passive: { description: 'Own PINGs off: answers, never judges.' },
      },
    },
    /** `count` PINGs unanswered and one more interval of silence. */
    dead: { type: 'final', description: 'count PINGs unanswered, then one more silent interval.' },
    closed: { type: 'final', description: 'Closed by either side, or at the ADVERTISE deadline.' },
  },
});

export type KeepaliveMachine = typeof keepaliveMachine;
export type KeepaliveSnapshot = SnapshotFrom<KeepaliveMachine>;
