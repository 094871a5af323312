/**
 * Delivery mode on a hub: one `DeliveryLink` per connection that asked for it (the client
 * offered the subprotocol and has a session), kept for as long as the connection lives, across
 * its sockets, and outliving the process where the hub's store does. The link sits between
 * the socket and the host: frames in go through it (application messages reach the hub once,
 * in order, with their sequence number; keepalive frames go on to the host), and the host's
 * PINGs and PONGs go out through it with an acknowledgement when one is owed.
 */
import type { AppData } from '../application/index.ts';
import { TEXT_FRAMES, type Frame, type Inbound } from '../codec/index.ts';
import type { ConnectionId, Host, PeerSocket, Transport } from '../host/index.ts';
import { DELIVERY_PROTOCOL, DeliveryLink, MemoryDeliveryStore, type DeliveryError, type DeliveryStore, type LinkCounters, type WindowEntry, type WindowLimits } from '../delivery/index.ts';
import type { EndCause } from '../protocol/index.ts';

/** The `meta` key a delivery-mode connection is marked with (kept with its snapshot). */
export const DELIVERY_META = 'delivery';

/** Whether an upgrade request offers delivery mode (`Sec-WebSocket-Protocol`). */
export function offersDelivery(request: Request): boolean {
  const offered = request.headers.get('sec-websocket-protocol');
  return offered !== null && offered.split(',').some((protocol) => protocol.trim() === DELIVERY_PROTOCOL);
}

/**
 * The subprotocol to select in an upgrade's answer: delivery mode's when the connection speaks
 * it; otherwise the client's first other one, as \`ws\` and Hono's helper always did.
 */
export function chosenProtocol(offered: string | null | undefined, delivery: boolean): string | undefined {
  if (delivery) return DELIVERY_PROTOCOL;
  return offered?.split(',').map((protocol) => protocol.trim()).find((protocol) => protocol !== '' && protocol !== DELIVERY_PROTOCOL);
}

export interface HubDeliveryOptions {
  host: Host;
  limits: WindowLimits;
  /** Where windows outlive the process; default: memory. */
  store?: DeliveryStore | undefined;
  maxFrameBytes: number;
  /** An application message, once, in order. */
  deliver: (id: ConnectionId, data: AppData, seq: number) => void;
  /** A socket finished the handshake (a Durable Object notes it on the socket, which outlives the instance). */
  opened?: ((id: ConnectionId) => void) | undefined;
}

export class HubDelivery {
  readonly #host: Host;
  readonly #limits: WindowLimits;
  readonly #store: DeliveryStore;
  readonly #maxFrameBytes: number;
  readonly #deliver: (id: ConnectionId, data: AppData, seq: number) => void;
  readonly #opened: ((id: ConnectionId) => void) | undefined;
  readonly #links = new Map<ConnectionId, DeliveryLink>();
  readonly #diverted = new Map<ConnectionId, (data: AppData) => boolean>();

  constructor(options: HubDeliveryOptions) {
    this.#host = options.host;
    this.#limits = options.limits;
    this.#store = options.store ?? new MemoryDeliveryStore();
    this.#maxFrameBytes = options.maxFrameBytes;
    this.#deliver = options.deliver;
    this.#opened = options.opened;
  }

  /** Whether connection `id` speaks delivery mode (its meta says so). */
  speaks(id: ConnectionId): boolean {
    return this.#links.has(id) || this.#host.meta(id)?.[DELIVERY_META] !== undefined;
  }

  /** The delivery-mode connections this host holds now. */
  held(): ConnectionId[] {
    return [...this.#host.ids()].filter((id) => this.speaks(id));
  }

  /** The link of a delivery-mode connection, made (or read back from the store) on first use. */
  link(id: ConnectionId): DeliveryLink | undefined {
    let link = this.#links.get(id);
    if (link || !this.speaks(id)) return link;
    const restored = this.#store.load(id);
    link = new DeliveryLink({
      role: 'server',
      limits: this.#limits,
      interval: this.#host.view(id)?.interval ?? this.#host.defaults.interval,
      maxFrameBytes: this.#maxFrameBytes,
      ...(restored ? { restored } : {}),
      persistence: this.#store.persistence(id),
      deliver: (data, seq) => this.#deliver(id, data, seq),
      fail: (error) => this.#failed(id, error),
      ...(this.#opened ? { opened: () => this.#opened!(id) } : {}),
    });
    // The epoch is the connection itself: a replay never crosses into another connection.
    link.epoch = id;
    this.#links.set(id, link);
    return link;
  }

  /** A socket carries connection `id` now. */
  attach(id: ConnectionId, socket: PeerSocket): void {
    this.link(id)?.attach((frame) => socket.send(frame));
  }

  /** Whether connection `id`'s current socket has done its handshake (it speaks delivery mode, and DATA flows). */
  opened(id: ConnectionId): boolean {
    return this.#links.get(id)?.open ?? false;
  }

  /** The socket `id` did its handshake on, taken back by a new instance (a Durable Object after hibernation or eviction). */
  readopt(id: ConnectionId, socket: PeerSocket): void {
    this.link(id)?.readopt((frame) => socket.send(frame));
  }

  /** Connection `id`'s socket is gone (or was let go of); sends wait in its window. */
  detach(id: ConnectionId): void {
    this.#links.get(id)?.detach();
  }

  /** A frame from connection `id`'s socket: through its link in delivery mode, else to the host. Returns whether it is still open. */
  receive(id: ConnectionId, frame: Frame, at?: number): boolean {
    const link = this.link(id);
    if (!link) return this.#host.receive(id, frame, at);
    const heard: Inbound | null = link.receive(frame);
    if (heard === null) return this.#host.has(id);
    return this.#host.deliver(id, heard, at) && this.#host.has(id);
  }

  /**
   * An application message to connection `id`: into its window (written now if its socket
   * is open, else on its return). Undefined when `id` does not speak delivery mode; false
   * when its window is full (nothing new is held).
   */
  send(id: ConnectionId, data: AppData): boolean | undefined {
    const divert = this.#diverted.get(id);
    if (divert) return divert(data);
    return this.link(id)?.send(data);
  }

  /**
   * Sends to connection `id` go to `sink` instead of its window until `undivert`: a clustered
   * hub taking a connection in sends through the connection's inbox in Redis until it has
   * taken what others sent before, so its own sends never overtake theirs.
   */
  divert(id: ConnectionId, sink: (data: AppData) => boolean): void {
    this.#diverted.set(id, sink);
  }

  undivert(id: ConnectionId): void {
    this.#diverted.delete(id);
  }

  /** The host's transport, with PINGs and PONGs of delivery-mode connections carrying an owed acknowledgement. */
  transport(inner: Transport): Transport {
    return {
      send: (id, frame) => {
        const link = frame === TEXT_FRAMES.PING || frame === TEXT_FRAMES.PONG ? this.#links.get(id) : undefined;
        inner.send(id, link ? link.keepalive(frame === TEXT_FRAMES.PING ? 'PING' : 'PONG') : frame);
      },
      close: (id, cause) => inner.close(id, cause),
    };
  }

  /** What connection `id` sent and its peer never acknowledged (its end is being reported). */
  unacknowledged(id: ConnectionId): readonly WindowEntry[] {
    return this.#links.get(id)?.unacknowledged() ?? this.#store.load(id)?.entries ?? [];
  }

  /** The counters of connection `id`'s link, for its stored record (a handover to another process). */
  counters(id: ConnectionId): LinkCounters | undefined {
    return this.#links.get(id)?.counters;
  }

  /** Connection `id` ended or moved away: its link goes, and (ended) its stored window. */
  forget(id: ConnectionId, ended: boolean): void {
    this.#links.delete(id);
    this.#diverted.delete(id);
    if (ended) this.#store.delete(id);
  }

  #failed(id: ConnectionId, error: DeliveryError): void {
    const cause: EndCause = { cause: 'delivery', code: error.code, message: error.message };
    this.#host.close(id, cause);
  }
}
