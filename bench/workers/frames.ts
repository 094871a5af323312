/**
 * Figure 3 driver, shared by the figure and by `--cpu-prof` runs: C advertised
 * connections, each sent F frames per keepalive interval in turn (PING, PONG, an
 * application message), on a virtual clock; the host is ticked whenever its next
 * deadline passes, so folds and PINGs are part of the cost. Frames are fresh strings
 * (as a socket hands them over), not the interned constants.
 */
import { Application } from '../../runtime/application/application.ts';
import { Host } from '../../runtime/host/host.ts';
import { HubMetrics } from '../../runtime/metrics/hub-metrics.ts';
import { SocketRegistry } from '../../runtime/host/sockets.ts';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import type { Frame } from '../../runtime/codec/codec.ts';
import { HandHost } from '../baselines/hand-host.ts';
import { timed, type Elapsed } from '../lib/clock.ts';

export const INTERVAL = 1000;

export interface FrameTarget {
  receive(id: string, frame: Frame, at: number): boolean;
  tick(at: number): void;
  nextWake(): number | null;
}

export interface FrameRig {
  target: FrameTarget;
  /** Sends `frames` more frames; returns the time it took. */
  run(frames: number): Elapsed;
  steps(): number;
  sent(): number;
}

const COPIES = 1024;
/** A fresh flat copy, as a socket hands a frame over (not the interned constant). */
const copy = (s: string) => String.fromCharCode(...Array.from(s, (c) => c.charCodeAt(0)));
const POOL: string[][] = [TEXT_FRAMES.PING, TEXT_FRAMES.PONG, 'app:some application message'].map((f) =>
  Array.from({ length: COPIES }, () => copy(f)),
);

/**
 * `host`: the Host as the Node adapter configures it. `hooked`: the same Host with the
 * application layer wired as a server wires it (Host `onMessage` into `Application`) and an
 * `onMessage` hook that does nothing (figure 10). `hand`: the hand-written baseline.
 */
export function frameRig(kind: 'host' | 'hooked' | 'metered' | 'hand', connections: number, perInterval: number): FrameRig {
  let sent = 0;
  const transport = { send: () => void sent++, close: () => {} };
  let target: FrameTarget;
  let host: Host | null = null;
  const ids = Array.from({ length: connections }, (_, i) => `c${i}`.padEnd(21, '-'));
  if (kind === 'host' || kind === 'hooked' || kind === 'metered') {
    // metered: as assembleHub wires /metrics (a PONG's round trip observed, lifecycle counted).
    const metrics = kind === 'metered' ? new HubMetrics() : undefined;
    // As the Node adapter configures it: one wake callback, flood limit on (high enough not to trip).
    let wake: number | null = null;
    let application: Application | undefined;
    host = new Host({
      transport,
      now: () => 0,
      maxPingsPerInterval: perInterval,
      defaults: { interval: INTERVAL, count: 5 },
      onNextWake: (at) => (wake = at),
      ...(kind === 'hooked' ? { onMessage: (id: string, data: Frame, at: number, tag: unknown) => application!.message(id, data, at, tag) } : {}),
      ...(metrics ? { onPong: metrics.pong } : {}),
    });
    if (metrics) metrics.attach(host, new Application({ host, sockets: new SocketRegistry(), hub: 'bench' }));
    if (kind === 'hooked') application = new Application({ host, sockets: new SocketRegistry(), hub: 'bench', hooks: { onMessage: () => {} } });
    void wake;
    for (const id of ids) host.open({ id, role: 'server', at: 0 });
    target = host;
  } else {
    const hand = new HandHost(transport, INTERVAL, 5);
    for (const id of ids) hand.open(id, 0);
    target = hand;
  }
  for (const id of ids) target.receive(id, TEXT_FRAMES.ADVERTISE, 0);
  // perInterval = Infinity: every frame at time 0, so no deadline ever comes due.
  const step = INTERVAL / (connections * perInterval);
  let k = 0;
  return {
    target,
    run(frames) {
      const end = k + frames;
      return timed(() => {
        let wake = target.nextWake() ?? Infinity;
        for (; k < end; k++) {
          const at = k * step;
          if (at >= wake) {
            target.tick(at);
            wake = target.nextWake() ?? Infinity;
          }
          const round = (k / connections) | 0;
          target.receive(ids[k % connections]!, POOL[round % 3]![k % COPIES]!, at);
        }
      });
    },
    steps: () => host?.stats.steps ?? 0,
    sent: () => sent,
  };
}
