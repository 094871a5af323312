/**
 * A chaotic in-memory link for the simulation (`sim.ts`): each direction drops, delays,
 * duplicates and reorders frames by its own dice, all drawn from one seeded generator,
 * so a run replays exactly from its seed. Nothing sleeps: time is the simulation's.
 */
import type { Host, HostEvent } from '../../runtime/host/host.ts';
import { createLibvirtCodec, TEXT_FRAMES, type Frame } from '../../runtime/codec/index.ts';
import type { KeepaliveOptions } from '../../actors/keepalive.ts';
import { peerSaw, Simulation, type LinkTransport } from './sim.ts';
import type { EndCause } from '../../runtime/protocol/end-cause.ts';

/** mulberry32: a tiny seeded generator, uniform in [0, 1). Same seed, same run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What one direction of a link does to the frames it carries. */
export interface Faults {
  /** Probability that a frame is lost. */
  drop: number;
  /** Probability that a frame that got through arrives a second time. */
  duplicate: number;
  /** Probability that a frame is held back (up to `holdMax` ms) so later frames overtake it. */
  reorder: number;
  /** One-way latency, ms. */
  latency: number;
  /** Extra uniform delay in [0, jitter) ms per frame (also reorders frames sent close together). */
  jitter: number;
  holdMax: number;
}

export const NO_FAULTS: Faults = { drop: 0, duplicate: 0, reorder: 0, latency: 2, jitter: 0, holdMax: 0 };

/** What happened to the frames of one direction. */
export interface DirectionStats {
  sent: number;
  dropped: number;
  duplicated: number;
  delivered: number;
  /** Deliveries that overtook a frame sent before them. */
  reordered: number;
}

/**
 * On TCP and WebSocket nothing is lost, and the protocol sends ADVERTISE once: a lost one
 * leaves the server silent for the whole connection (see the chaos test that shows it).
 * So by default the handshake is exempt and loss models PINGs and PONGs arriving too
 * late to matter; a test that wants a lossy handshake passes `exempt: () => false`.
 */
const libvirt = createLibvirtCodec({ advertise: true });
const isAdvertise = (frame: Frame): boolean =>
  typeof frame === 'string' ? frame === TEXT_FRAMES.ADVERTISE : libvirt.decode(frame) === 'ADVERTISE';

export interface ChaosLinkOptions {
  random: () => number;
  aToB?: Partial<Faults>;
  bToA?: Partial<Faults>;
  /** Frames no fault touches (default: ADVERTISE). */
  exempt?: (frame: Frame) => boolean;
}

export interface ChaosLink {
  /** Set a direction to drop everything, closes included (a pulled cable). */
  cut: { aToB: boolean; bToA: boolean };
  faults: { aToB: Faults; bToA: Faults };
  stats: { aToB: DirectionStats; bToA: DirectionStats };
}

type Side = { host: Host; transport: LinkTransport };

/** Wires connection `aId` on `a` to `bId` on `b` through a chaotic link. */
export function chaosLink(sim: Simulation, a: Side, aId: string, b: Side, bId: string, options: ChaosLinkOptions): ChaosLink {
  const { random } = options;
  const exempt = options.exempt ?? isAdvertise;
  const link: ChaosLink = {
    cut: { aToB: false, bToA: false },
    faults: { aToB: { ...NO_FAULTS, ...options.aToB }, bToA: { ...NO_FAULTS, ...options.bToA } },
    stats: { aToB: emptyStats(), bToA: emptyStats() },
  };

  function direction(dir: 'aToB' | 'bToA', to: Side, toId: string) {
    let seq = 0;
    let newest = -1;
    const stats = link.stats[dir];
    const arrive = (n: number, frame: Frame) => () => {
      stats.delivered++;
      if (n < newest) stats.reordered++;
      else newest = n;
      to.host.receive(toId, frame);
    };
    // Whole ms, as Date.now() gives: the verdicts stay exact sums of intervals.
    const delay = (f: Faults) => Math.round(f.latency + random() * f.jitter + (random() < f.reorder ? random() * f.holdMax : 0));
    return {
      deliver(frame: Frame) {
        if (link.cut[dir]) return;
        const f = link.faults[dir];
        const n = seq++;
        stats.sent++;
        if (exempt(frame)) return sim.schedule(sim.now + f.latency, arrive(n, frame));
        if (random() < f.drop) return void stats.dropped++;
        sim.schedule(sim.now + delay(f), arrive(n, frame));
        if (random() < f.duplicate) {
          stats.duplicated++;
          sim.schedule(sim.now + delay(f), arrive(n, frame));
        }
      },
      // A close is not a frame the dice touch: TCP delivers its FIN unless the cable is out.
      close(cause: EndCause) {
        if (!link.cut[dir]) sim.schedule(sim.now + link.faults[dir].latency, () => to.host.peerClosed(toId, peerSaw(cause)));
      },
    };
  }

  a.transport.routes.set(aId, direction('aToB', b, bId));
  b.transport.routes.set(bId, direction('bToA', a, aId));
  return link;
}

function emptyStats(): DirectionStats {
  return { sent: 0, dropped: 0, duplicated: 0, delivered: 0, reordered: 0 };
}

export interface ChaosRunOptions {
  seed: number;
  /** Simulated ms to run for. */
  duration: number;
  server: KeepaliveOptions;
  client: KeepaliveOptions;
  /** Client to server. */
  up?: Partial<Faults>;
  /** Server to client. */
  down?: Partial<Faults>;
}

export interface FalseDeath {
  side: 'client' | 'server';
  at: number;
  silentFor: number;
}

export interface ChaosRunResult {
  /** Connections lost to a false death (the first side to give up on each). */
  deaths: FalseDeath[];
  /** Simulated ms during which a connection was open (the exposure the rate is per). */
  connectedFor: number;
  connections: number;
  up: DirectionStats;
  down: DirectionStats;
}

/**
 * One client and one server on a chaotic link for `duration`: every death is a false
 * one (both peers are alive throughout), and after each the pair reconnects at once, so
 * the run measures deaths per connected hour.
 */
export function runChaos(options: ChaosRunOptions): ChaosRunResult {
  const random = seededRandom(options.seed);
  const sim = new Simulation();
  const deaths: FalseDeath[] = [];
  const up = emptyStats();
  const down = emptyStats();
  let connections = 0;
  let openedAt = 0;
  let connectedFor = 0;
  let links: ChaosLink[] = [];
  let reconnecting = false;

  const onEvent = (side: FalseDeath['side']) => (event: HostEvent) => {
    // Both sides may give up on the same connection; it is one connection lost.
    if (event.type !== 'dead' || reconnecting) return;
    deaths.push({ side, at: event.at, silentFor: event.silentFor });
    reconnecting = true;
    connectedFor += event.at - openedAt;
    // The other side hears the close over the link; the new pair starts on fresh ids.
    sim.schedule(event.at + 1, open);
  };
  const server = sim.host({ onEvent: onEvent('server'), maxPingsPerInterval: 0 });
  const client = sim.host({ onEvent: onEvent('client'), maxPingsPerInterval: 0 });

  function open(): void {
    reconnecting = false;
    const n = connections++;
    openedAt = sim.now;
    links.push(chaosLink(sim, client, `c${n}`, server, `s${n}`, { random, aToB: options.up ?? {}, bToA: options.down ?? {} }));
    server.host.open({ id: `s${n}`, role: 'server', ...options.server });
    client.host.open({ id: `c${n}`, role: 'client', ...options.client });
  }

  open();
  sim.runUntil(options.duration);
  if (!reconnecting) connectedFor += options.duration - openedAt;
  for (const link of links) {
    addStats(up, link.stats.aToB);
    addStats(down, link.stats.bToA);
  }
  links = [];
  return { deaths, connectedFor, connections, up, down };
}

function addStats(into: DirectionStats, from: DirectionStats): void {
  into.sent += from.sent;
  into.dropped += from.dropped;
  into.duplicated += from.duplicated;
  into.delivered += from.delivered;
  into.reordered += from.reordered;
}
