/**
 * Figure 14, what a join or a leave costs when the hub tells every peer who is online:
 * presence for peers (runtime/presence/: a diff per change, encoded once) against the
 * pattern the presence example used before it (the old `examples/presence/hooks.ts`: on
 * every open and close, the whole list from `hub.presence()` broadcast to everyone).
 *
 * One hub in this process, assembled as a server assembles it, its sockets a fake port that
 * counts bytes; N subscribers connected, then a peer joins and leaves, one change at a time
 * (the worst case for presence: no two changes share a frame). Bytes per subscriber per
 * change, and server CPU per change (the connection's own open or close included, alike in
 * both). Target (issue 35): per-subscriber cost per change independent of the hub's size.
 */
import { assembleHub, type AssembledHub, type PeerHub, WebSocketPeer, type WebSocketPort } from '../../runtime/hub/index.ts';
import { isResponse, PEER_META } from '../../runtime/application/index.ts';
import type { Figure, Measurement } from '../lib/result.ts';
import { interleave, measure, median } from '../lib/stats.ts';

interface Sock {
  bytes: number;
}

const port: WebSocketPort<Sock> = {
  send: (socket, frame) => void (socket.bytes += typeof frame === 'string' ? frame.length : frame.byteLength),
  close: () => {},
};

/** Presence's timer never fires here: each change is flushed on its own (`flush`). */
const NO_TIMERS = { setTimeout: () => 0, clearTimeout: () => {} };

type Kind = 'presence' | 'broadcast';

interface Rig {
  hub: AssembledHub;
  socks: Sock[];
  /** One change: a peer joins (even) or leaves (odd), told to every subscriber. */
  change(i: number): Promise<void>;
}

async function rig(kind: Kind, subscribers: number): Promise<Rig> {
  const hub = assembleHub(
    { interval: 60_000, count: 5, presence: kind === 'presence', metrics: false },
    { accept: () => () => new Response(null, { status: 500 }), onNextWake: () => {}, openWithoutToken: true, presenceTimers: NO_TIMERS },
  );
  const peers: PeerHub<Sock> = { port, host: hub.host, sockets: hub.sockets, gate: hub.gate, delivery: hub.delivery, presence: hub.presence };
  const open = async (name: string, sock: Sock): Promise<WebSocketPeer<Sock>> => {
    const ticket = await hub.gate.admit(new Request(`http://hub/connect?peer=${name}&presence=1`, { headers: { upgrade: 'websocket' } }));
    if (isResponse(ticket)) throw new Error(`refused ${ticket.status}`);
    const peer = new WebSocketPeer(sock, peers);
    peer.attach(ticket);
    return peer;
  };
  const socks: Sock[] = [];
  for (let i = 0; i < subscribers; i++) {
    const sock = { bytes: 0 };
    socks.push(sock);
    await open(`peer-${i}`, sock);
  }
  await Promise.resolve();
  hub.presence?.flush();
  let churner: WebSocketPeer<Sock> | undefined;
  return {
    hub,
    socks,
    async change(i) {
      if (i % 2 === 0) churner = await open('churner', { bytes: 0 });
      else churner!.closed(1000, '');
      if (kind === 'presence') hub.presence!.flush();
      else broadcastWholeList(hub);
    },
  };
}

/** The old example's announce: every name online (one row per name), to every connection. */
function broadcastWholeList(hub: AssembledHub): void {
  const online = new Map<string, { peer: string; online: true; state: string }>();
  for (const view of hub.host.list()) {
    const peer = view.meta[PEER_META];
    if (peer !== undefined && !online.has(peer)) online.set(peer, { peer, online: true, state: view.state });
  }
  const peers = [...online.values()].sort((a, b) => a.peer.localeCompare(b.peer));
  hub.application.broadcastHere(JSON.stringify({ type: 'presence', peers }), new Set());
}

const bytesOf = (socks: readonly Sock[]) => socks.reduce((sum, sock) => sum + sock.bytes, 0);

const figure: Figure = {
  figure: 14,
  name: 'presence: cost of a join or leave per subscriber',
  async run({ quick, runs, log }) {
    const sizes = quick ? [100, 1_000] : [1_000, 10_000];
    const parts: Measurement[] = [];
    const perSubscriber: number[] = [];
    for (const subscribers of sizes) {
      const changes = quick ? 20 : subscribers >= 10_000 ? 40 : 200;
      const rigs = { presence: await rig('presence', subscribers), broadcast: await rig('broadcast', subscribers) };
      const bytes = { presence: [] as number[], broadcast: [] as number[] };
      let step = 0;
      const cpu = await interleave(runs, ['presence', 'broadcast'] as const, async (kind) => {
        const r = rigs[kind];
        const before = bytesOf(r.socks);
        const start = process.cpuUsage();
        for (let i = 0; i < changes; i++) await r.change(step + i);
        const used = process.cpuUsage(start);
        bytes[kind].push((bytesOf(r.socks) - before) / (changes * subscribers));
        return (used.user + used.system) / changes;
      });
      step += changes;
      const b = { presence: median(bytes.presence), broadcast: median(bytes.broadcast) };
      perSubscriber.push(b.presence);
      log(`${subscribers} subscribers: ${b.presence.toFixed(1)} vs ${b.broadcast.toFixed(0)} bytes per subscriber per change; CPU ${median(cpu.presence).toFixed(0)} vs ${median(cpu.broadcast).toFixed(0)} us per change`);
      parts.push(
        measure({
          name: `bytes per subscriber per join or leave, ${subscribers.toLocaleString('en')} subscribers`,
          unit: 'bytes',
          samples: bytes.presence,
          baselineSamples: bytes.broadcast,
          baselineName: 'the whole list broadcast on every change (the old example)',
          // Independence of the hub's size is the headline's check (both sizes); here: below the whole list.
          target: 'ratio < 1',
          meets: (_value, ratio) => ratio !== null && ratio < 1,
        }),
        measure({
          name: `server CPU per join or leave, ${subscribers.toLocaleString('en')} subscribers`,
          unit: 'us',
          samples: cpu.presence,
          baselineSamples: cpu.broadcast,
          baselineName: 'the whole list broadcast on every change (the old example)',
          target: 'ratio < 1',
          meets: (_value, ratio) => ratio !== null && ratio < 1,
        }),
      );
    }
    const [small, large] = perSubscriber as [number, number];
    const headline = parts[2]!;
    return {
      ...headline,
      name: `bytes per subscriber per join or leave (${sizes[1]!.toLocaleString('en')} subscribers)`,
      target: 'per-subscriber bytes independent of the hub size (within 1.1x from the smaller hub)',
      met: large <= small * 1.1,
      scale: `${sizes.map((n) => n.toLocaleString('en')).join(' and ')} subscribers, one change per frame, ${runs} runs${quick ? ' (quick mode)' : ''}`,
      parts,
      notes: [
        'One change per frame is presence\'s worst case: under churn, changes within 50 ms share one frame per subscriber.',
        'A presence frame is encoded once and the same string goes to every subscriber; the old pattern rebuilt and sent the whole list (O(peers) bytes to each of O(peers) pages).',
        'Bytes are what the hub writes to sockets (text length); CPU is this process\'s, per change, the connection\'s own open or close included.',
      ],
    };
  },
};
export default figure;
