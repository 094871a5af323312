/**
 * A delivery-mode peer for the workerd tests, written frame by frame from docs/protocol.md
 * (not our client): so a test decides when it acknowledges, sees every frame byte for byte,
 * and keeps its socket across the object's hibernation and eviction. It answers the hub's
 * PINGs (with an acknowledgement when it moved, as the protocol says), checks every DATA it
 * gets follows the one before, and keeps what it sent to replay after a RESUME.
 */
import { exports } from 'cloudflare:workers';
import { expect } from 'vitest';
import { CONNECTION_HEADER } from '../../../adapters/cloudflare/hub.ts';
import { decodeFrame, DELIVERY_PROTOCOL, encodeAck, encodeData, encodeKeepalive, encodeResume, DeliveryError } from '../../../runtime/delivery/wire.ts';

export class DeliveryPeer {
  /** Every frame from the hub, as it came, on every socket. */
  readonly frames: string[] = [];
  /** Application messages from the hub, in order; `seqs[i]` is `down[i]`'s sequence number. */
  readonly down: string[] = [];
  readonly seqs: number[] = [];
  /** Anything the hub sent that breaks the protocol (a DATA out of sequence, a malformed frame). */
  readonly errors: string[] = [];
  /** What this peer sent, by sequence number (`sent[i]` is seq i + 1). */
  readonly sent: string[] = [];
  epoch: string | null = null;
  /** The hub's highest acknowledgement of ours: our floor. */
  floor = 0;
  /** The last acknowledgement we sent. */
  #ackSent = 0;
  ws!: WebSocket;
  id = '';
  resumed = false;
  closed = false;
  /** How the last socket closed, if it did. */
  closedWith: { code: number; reason: string } | null = null;
  readonly #hub: string;
  readonly #session: string;

  constructor(hub: string, session: string) {
    this.#hub = hub;
    this.#session = session;
  }

  get received(): number {
    return this.seqs.at(-1) ?? 0;
  }

  /** A socket to `/connect/<hub>` with the session, offering delivery mode; ADVERTISE, RESUME, and the hub's RESUME back. */
  async open(): Promise<this> {
    const response = await exports.default.fetch(`http://hub.test/connect/${this.#hub}?session=${this.#session}`, {
      headers: { Upgrade: 'websocket', 'Sec-WebSocket-Protocol': DELIVERY_PROTOCOL },
    });
    expect(response.status).toBe(101);
    expect(response.headers.get('sec-websocket-protocol')).toBe(DELIVERY_PROTOCOL);
    this.id = response.headers.get(CONNECTION_HEADER)!;
    const ws = response.webSocket!;
    ws.accept();
    this.ws = ws;
    this.resumed = false;
    this.closed = false;
    this.closedWith = null;
    ws.addEventListener('message', (event) => ws === this.ws && this.#frame(String(event.data)));
    ws.addEventListener('close', (event) => {
      if (ws !== this.ws) return;
      this.closed = true;
      this.closedWith = { code: event.code, reason: event.reason };
    });
    ws.send('keepalive:ADVERTISE');
    ws.send(encodeResume(this.epoch, this.received, this.floor));
    this.#ackSent = this.received;
    await this.until(() => this.resumed, 'the hub\'s RESUME');
    return this;
  }

  /** Sends `data` as our next message, with the acknowledgement every DATA carries. */
  send(data: string): void {
    this.sent.push(data);
    this.ws.send(encodeData(this.sent.length, this.received, data));
    this.#ackSent = this.received;
  }

  /** An acknowledgement alone, if one is owed. */
  ack(): void {
    if (this.received === this.#ackSent) return;
    this.ws.send(encodeAck(this.received));
    this.#ackSent = this.received;
  }

  /** Polls `check` (every few ms, never a fixed sleep) until it holds. */
  async until(check: () => boolean, what: string, timeout = 10_000): Promise<void> {
    const deadline = performance.now() + timeout;
    while (!check()) {
      if (this.errors.length > 0) throw new Error(`${what}: ${this.errors.join('; ')}`);
      if (performance.now() > deadline) throw new Error(`no ${what} within ${timeout} ms (frames: ${this.frames.slice(-5).join(' | ')})`);
      await scheduler.wait(5);
    }
  }

  #frame(text: string): void {
    this.frames.push(text);
    const frame = decodeFrame(text);
    if (frame instanceof DeliveryError) return void this.errors.push(`${frame.code}: ${frame.message}`);
    switch (frame.kind) {
      case 'resume':
        if (this.resumed) this.errors.push('a second RESUME');
        if (frame.epoch !== this.epoch && this.epoch !== null) this.errors.push(`epoch ${frame.epoch}, not ${this.epoch}`);
        this.epoch = frame.epoch;
        this.#acknowledged(frame.received);
        this.resumed = true;
        // Replay, in order, what the hub says it does not have.
        for (let seq = frame.received + 1; seq <= this.sent.length; seq++) this.ws.send(encodeData(seq, this.received, this.sent[seq - 1]!));
        return;
      case 'data':
        if (frame.seq !== this.received + 1) return void this.errors.push(`DATA ${frame.seq} where ${this.received + 1} was next`);
        this.#acknowledged(frame.ack);
        this.down.push(String(frame.data));
        this.seqs.push(frame.seq);
        return;
      case 'ack':
        return this.#acknowledged(frame.ack);
      case 'ping': {
        if (frame.ack !== null) this.#acknowledged(frame.ack);
        const owed = this.received === this.#ackSent ? null : this.received;
        this.#ackSent = this.received;
        return this.ws.send(encodeKeepalive('PONG', owed));
      }
      case 'pong':
        if (frame.ack !== null) this.#acknowledged(frame.ack);
        return;
      case 'advertise':
        return;
    }
  }

  #acknowledged(ack: number): void {
    if (ack < this.floor || ack > this.sent.length) this.errors.push(`an acknowledgement of ${ack} (floor ${this.floor}, sent ${this.sent.length})`);
    this.floor = Math.max(this.floor, ack);
  }
}
