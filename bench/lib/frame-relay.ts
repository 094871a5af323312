/**
 * A TCP relay on loopback that counts WebSocket frames each way, read off the bytes it
 * forwards (RFC 6455 headers: after the HTTP upgrade, each frame's length says where the
 * next begins), so figure 13 counts what is really on the wire without touching either
 * end. It can also swallow every byte both ways (`blackhole`: a link gone quiet) and cut
 * every connection (`cut`: destroyed without a close frame).
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface FrameCounts {
  /** Frames server to client, and client to server. */
  down: number;
  up: number;
}

export interface FrameRelay {
  port: number;
  readonly counts: FrameCounts;
  /** Swallows every byte, both ways, while set. */
  blackhole: boolean;
  cut(): void;
  close(): Promise<void>;
}

/** Counts the frames in one direction of one connection, chunk by chunk. */
class FrameCounter {
  #header = true;
  #text = '';
  #pending = Buffer.alloc(0);
  /** Payload bytes of the current frame still to skip. */
  #skip = 0;

  readonly #count: () => void;
  /** Given: each frame's payload is read too (unmasked), for a look at what goes by. */
  readonly #onFrame: ((payload: Buffer) => void) | undefined;

  constructor(count: () => void, onFrame?: (payload: Buffer) => void) {
    this.#count = count;
    this.#onFrame = onFrame;
  }

  feed(chunk: Buffer): void {
    if (this.#header) {
      this.#text += chunk.toString('latin1');
      const end = this.#text.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.#header = false;
      chunk = Buffer.from(this.#text.slice(end + 4), 'latin1');
      this.#text = '';
    }
    const buf = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    let at = 0;
    for (;;) {
      if (this.#skip > 0) {
        const take = Math.min(this.#skip, buf.length - at);
        this.#skip -= take;
        at += take;
        if (this.#skip > 0) break;
      }
      if (buf.length - at < 2) break;
      const masked = (buf[at + 1]! & 0x80) !== 0;
      let length = buf[at + 1]! & 0x7f;
      let head = 2;
      if (length === 126) {
        if (buf.length - at < 4) break;
        length = buf.readUInt16BE(at + 2);
        head = 4;
      } else if (length === 127) {
        if (buf.length - at < 10) break;
        length = Number(buf.readBigUInt64BE(at + 2));
        head = 10;
      }
      if (masked) head += 4;
      if (buf.length - at < head) break;
      if (this.#onFrame) {
        if (buf.length - at < head + length) break;
        const payload = Buffer.from(buf.subarray(at + head, at + head + length));
        if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= buf[at + head - 4 + (i % 4)]!;
        this.#onFrame(payload);
      }
      this.#count();
      at += head;
      this.#skip = length;
    }
    this.#pending = at < buf.length ? Buffer.from(buf.subarray(at)) : Buffer.alloc(0);
  }
}

export async function startFrameRelay(targetPort: number, targetHost = '127.0.0.1', onFrame?: (direction: 'down' | 'up', payload: Buffer) => void): Promise<FrameRelay> {
  const counts: FrameCounts = { down: 0, up: 0 };
  const sockets = new Set<Socket>();
  const state = { blackhole: false };
  const relay = (from: Socket, to: Socket, counter: FrameCounter) => {
    from.on('data', (chunk: Buffer) => {
      if (state.blackhole) return;
      counter.feed(chunk);
      to.write(chunk);
    });
    from.on('end', () => to.end());
    from.on('close', () => to.destroy());
    from.on('error', () => {});
  };
  const server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    }
    relay(client, upstream, new FrameCounter(() => counts.up++, onFrame && ((payload) => onFrame('up', payload))));
    relay(upstream, client, new FrameCounter(() => counts.down++, onFrame && ((payload) => onFrame('down', payload))));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    counts,
    get blackhole() {
      return state.blackhole;
    },
    set blackhole(on: boolean) {
      state.blackhole = on;
    },
    cut() {
      for (const socket of sockets) socket.destroy();
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
