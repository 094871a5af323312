/**
 * A deterministic world for host tests: one fake clock, frames in flight as scheduled
 * deliveries, and any number of hosts whose timers are their `nextWake()`. Nothing sleeps.
 */
import { Host, type HostOptions } from '../../runtime/host/host.ts';
import type { Frame } from '../../runtime/codec/index.ts';
import { closeFrame, endText, type EndCause } from '../../runtime/protocol/end-cause.ts';

interface Delivery {
  at: number;
  seq: number;
  run: () => void;
}

export class Simulation {
  now = 0;
  readonly hosts: Host[] = [];
  #deliveries: Delivery[] = [];
  #seq = 0;

  schedule(at: number, run: () => void): void {
    const delivery = { at, seq: this.#seq++, run };
    let i = this.#deliveries.length;
    while (i > 0 && this.#deliveries[i - 1]!.at > at) i--;
    this.#deliveries.splice(i, 0, delivery);
  }

  /** A host on this clock; its transport is a `LinkTransport` to wire with `link()`. */
  host(options: Omit<HostOptions, 'transport' | 'now'> = {}): { host: Host; transport: LinkTransport } {
    const transport = new LinkTransport();
    const host = new Host({ ...options, transport, now: () => this.now });
    this.hosts.push(host);
    return { host, transport };
  }

  /** Runs deliveries and host deadlines in time order up to and including `until`. */
  runUntil(until: number): void {
    for (;;) {
      const delivery = this.#deliveries[0]?.at ?? Infinity;
      let wake = Infinity;
      for (const host of this.hosts) wake = Math.min(wake, host.nextWake() ?? Infinity);
      const next = Math.min(delivery, wake);
      if (next > until) break;
      this.now = Math.max(this.now, next);
      if (delivery <= wake) this.#deliveries.shift()!.run();
      else for (const host of this.hosts) host.tick(this.now);
    }
    this.now = Math.max(this.now, until);
  }

  get inFlight(): number {
    return this.#deliveries.length;
  }
}

/** Routes a host's frames per connection id; a route may be cut to drop everything. */
/** What the far end of a link learns when this end closes for `cause`: a close frame, as a WebSocket peer would. */
export function peerSaw(cause: EndCause): EndCause {
  const { code, reason } = closeFrame(cause);
  return { cause: 'peer-closed', code, said: reason };
}

export class LinkTransport {
  readonly routes = new Map<string, { deliver: (frame: Frame) => void; close: (cause: EndCause) => void }>();
  readonly sent: { id: string; frame: Frame }[] = [];
  readonly closed: { id: string; reason: string }[] = [];
  send(id: string, frame: Frame): void {
    this.sent.push({ id, frame });
    this.routes.get(id)?.deliver(frame);
  }
  close(id: string, cause: EndCause): void {
    this.closed.push({ id, reason: endText(cause) });
    this.routes.get(id)?.close(cause);
  }
}

export interface LinkOptions {
  latency?: number;
  /** Drop frames in this direction (a→b is "a's frames to b"). */
  cut?: { aToB?: boolean; bToA?: boolean };
}

/** Wires connection `aId` on host `a` to `bId` on host `b` through the simulation. */
export function link(
  sim: Simulation,
  a: { host: Host; transport: LinkTransport },
  aId: string,
  b: { host: Host; transport: LinkTransport },
  bId: string,
  options: LinkOptions = {},
) {
  const latency = options.latency ?? 1;
  const cut = { aToB: false, bToA: false, ...options.cut };
  a.transport.routes.set(aId, {
    deliver: (frame) => !cut.aToB && sim.schedule(sim.now + latency, () => b.host.receive(bId, frame)),
    close: (cause) => sim.schedule(sim.now + latency, () => b.host.peerClosed(bId, peerSaw(cause))),
  });
  b.transport.routes.set(bId, {
    deliver: (frame) => !cut.bToA && sim.schedule(sim.now + latency, () => a.host.receive(aId, frame)),
    close: (cause) => sim.schedule(sim.now + latency, () => a.host.peerClosed(aId, peerSaw(cause))),
  });
  return cut;
}
