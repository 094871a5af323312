/**
 * `client.presence`: who is online in the hub, kept from the hub's presence frames
 * (runtime/protocol/presence.ts), and this peer's own state. The hub sends a whole list on
 * every attach (`sync`) and then only changes; a page reads `list()` or listens for `sync`,
 * `join`, `leave` and `update`. Quiet where the hub has presence off: `available` stays false.
 */
import { PRESENCE_COALESCE_MS, PRESENCE_FRAME, PRESENCE_SET_FRAME, type PresenceFrame, type PresenceKey, type PresencePeer, type PresenceState } from '../protocol/index.ts';

/** One presence event: `entry` for join, update and leave (a leave's as last listed); `reason` for refused. */
export class PresenceEvent extends Event {
  readonly peer: string | null;
  readonly entry: PresencePeer | null;
  readonly reason: string;
  constructor(type: keyof PresenceEventMap, entry: PresencePeer | null = null, reason = '') {
    super(type);
    this.entry = entry;
    this.peer = entry?.peer ?? null;
    this.reason = reason;
  }
}

export interface PresenceEventMap {
  /** A whole list: at subscribe, and after every reconnect. */
  sync: PresenceEvent;
  /** A peer's first connection (or a connection without an identity) appeared. */
  join: PresenceEvent;
  /** A peer's last connection ended. */
  leave: PresenceEvent;
  /** A peer's state or its connections changed. */
  update: PresenceEvent;
  /** The hub refused a state this client set (`reason` says why). */
  refused: PresenceEvent;
}

type Listener = Parameters<EventTarget['addEventListener']>[1];
type AddOptions = Parameters<EventTarget['addEventListener']>[2];

const keyOf = (item: PresencePeer | PresenceKey): string =>
  item.peer !== null ? `p${item.peer}` : `c${'id' in item ? item.id : item.connections[0]!.id}`;

export class ClientPresence extends EventTarget {
  readonly #entries = new Map<string, PresencePeer>();
  readonly #send: (frame: string) => boolean;
  #available = false;
  #self: string | null = null;
  /** The hub spoke presence on the current socket: a state may go out. */
  #heard = false;
  #state: string | undefined;
  #sent: string | undefined;
  #lastSent = -Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `send`: a frame to the current socket; false when none is open. */
  constructor(send: (frame: string) => boolean) {
    super();
    this.#send = send;
  }

  override addEventListener<K extends keyof PresenceEventMap>(type: K, listener: ((event: PresenceEventMap[K]) => unknown) | { handleEvent(event: PresenceEventMap[K]): unknown } | null, options?: AddOptions): void;
  override addEventListener(type: string, listener: Listener, options?: AddOptions): void;
  override addEventListener(type: string, listener: Listener, options?: AddOptions): void {
    super.addEventListener(type, listener, options);
  }

  /** The hub lists who is online to this client (it has presence on, and `authorize` allowed it). */
  get available(): boolean {
    return this.#available;
  }

  /** This client's connection id in the hub, as its entries list it. */
  get self(): string | null {
    return this.#self;
  }

  /** Everyone online as last heard: one entry per peer (with its connections), or per connection without an identity. */
  list(): PresencePeer[] {
    return [...this.#entries.values()];
  }

  /**
   * Sets this peer's state (any JSON value; the hub bounds its size and may refuse or rewrite
   * it). Coalesced: at most one goes out per 50 ms, the latest; it is set again on every
   * reconnect, so a hub that lost it gets it back.
   */
  set(state: PresenceState): void {
    const json = JSON.stringify(state);
    if (json === undefined) throw new TypeError('a presence state is a JSON value');
    this.#state = json;
    this.#flush();
  }

  /** A new socket: nothing goes out until the hub speaks presence on it. */
  opened(): void {
    this.#heard = false;
    this.#sent = undefined;
  }

  /** A `keepalive:PRESENCE` frame from the hub. */
  receive(text: string): void {
    let frame: PresenceFrame;
    try {
      frame = JSON.parse(text.slice(PRESENCE_FRAME.length)) as PresenceFrame;
    } catch {
      return;
    }
    const first = !this.#heard;
    this.#heard = true;
    const events: PresenceEvent[] = [];
    if (frame.refused !== undefined) events.push(new PresenceEvent('refused', null, frame.refused));
    if (frame.sync) {
      this.#available = true;
      this.#self = frame.you ?? null;
      this.#entries.clear();
      for (const entry of frame.sync) this.#entries.set(keyOf(entry), entry);
      events.push(new PresenceEvent('sync'));
    }
    for (const key of frame.leave ?? []) {
      const entry = this.#entries.get(keyOf(key));
      if (!entry) continue;
      this.#entries.delete(keyOf(key));
      events.push(new PresenceEvent('leave', entry));
    }
    for (const [type, entries] of [['join', frame.join], ['update', frame.update]] as const) {
      for (const entry of entries ?? []) {
        this.#entries.set(keyOf(entry), entry);
        events.push(new PresenceEvent(type, entry));
      }
    }
    if (first) this.#flush();
    // As the client's own events: after the step that caused them, never from inside it.
    if (events.length) queueMicrotask(() => events.forEach((event) => this.dispatchEvent(event)));
  }

  #flush(): void {
    if (this.#timer !== undefined || !this.#heard || this.#state === undefined || this.#state === this.#sent) return;
    const wait = this.#lastSent + PRESENCE_COALESCE_MS - Date.now();
    if (wait > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#flush();
      }, wait);
      return;
    }
    if (!this.#send(PRESENCE_SET_FRAME + this.#state)) return;
    this.#sent = this.#state;
    this.#lastSent = Date.now();
  }
}
