/**
 * A TCP relay in front of redis-server that counts the commands its clients send (RESP
 * arrays, read off the bytes it forwards): the round trips a hub makes, where Redis's own
 * total_commands_processed also counts every call a Lua script makes inside one EVAL.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface RedisRelay {
  port: number;
  url: string;
  /** Commands clients sent so far, and EVAL/EVALSHA among them. */
  readonly commands: number;
  readonly scripts: number;
  close(): Promise<void>;
}

/** Counts top-level commands in a client's byte stream (RESP arrays of bulk strings; an inline command is one line). */
class CommandCounter {
  #buf: Buffer = Buffer.alloc(0);
  readonly #onCommand: (name: string) => void;

  constructor(onCommand: (name: string) => void) {
    this.#onCommand = onCommand;
  }

  feed(chunk: Buffer): void {
    this.#buf = this.#buf.length > 0 ? Buffer.concat([this.#buf, chunk]) : chunk;
    let at = 0;
    for (;;) {
      const parsed = this.#command(at);
      if (parsed === null) break;
      this.#onCommand(parsed.name);
      at = parsed.end;
    }
    this.#buf = at < this.#buf.length ? Buffer.from(this.#buf.subarray(at)) : Buffer.alloc(0);
  }

  #line(at: number): { text: string; end: number } | null {
    const eol = this.#buf.indexOf('\r\n', at);
    return eol < 0 ? null : { text: this.#buf.toString('latin1', at, eol), end: eol + 2 };
  }

  #command(at: number): { name: string; end: number } | null {
    const head = this.#line(at);
    if (!head) return null;
    if (!head.text.startsWith('*')) return { name: head.text.split(' ')[0]!.toUpperCase(), end: head.end };
    const n = Number(head.text.slice(1));
    let end = head.end;
    let name = '';
    for (let i = 0; i < n; i++) {
      const size = this.#line(end);
      if (!size) return null;
      const length = Number(size.text.slice(1));
      if (this.#buf.length < size.end + length + 2) return null;
      if (i === 0) name = this.#buf.toString('latin1', size.end, size.end + length).toUpperCase();
      end = size.end + length + 2;
    }
    return { name, end };
  }
}

export async function startRedisRelay(targetPort: number): Promise<RedisRelay> {
  const counts = { commands: 0, scripts: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => {});
    }
    const counter = new CommandCounter((name) => {
      counts.commands++;
      if (name === 'EVAL' || name === 'EVALSHA') counts.scripts++;
    });
    client.on('data', (chunk: Buffer) => {
      counter.feed(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get commands() {
      return counts.commands;
    },
    get scripts() {
      return counts.scripts;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
