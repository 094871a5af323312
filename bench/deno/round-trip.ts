/**
 * Figure 8's round trips on Deno, as figure 5 measures them on Node: the Deno adapter
 * (Hono on `Deno.serve`, libvirt-framed TCP on `Deno.listen`) beside raw echo servers on
 * the same Deno APIs, and clients on Deno's own `WebSocket` and `Deno.connect`. Client
 * and servers share one process and core, as on Node.
 */
import { createLibvirtCodec } from '../../runtime/codec/libvirt.ts';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import type { RoundTripper } from '../workers/round-trips.ts';

export interface EchoServer {
  url: string;
  close(): Promise<void>;
}

const libvirt = createLibvirtCodec({ advertise: true });
const BIN = { ADVERTISE: libvirt.encode('ADVERTISE') as Uint8Array, PING: libvirt.encode('PING') as Uint8Array };
const micros = (since: number) => (performance.now() - since) * 1000;

/** The least a Deno server can do for a WebSocket round trip. */
export function wsEcho(): EchoServer {
  const sockets = new Set<WebSocket>();
  const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onopen = () => sockets.add(socket);
    socket.onmessage = (event) => socket.send(event.data);
    socket.onclose = () => sockets.delete(socket);
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}/`,
    async close() {
      for (const socket of sockets) socket.close();
      await server.shutdown();
    },
  };
}

/** ... and for a TCP one, Nagle off like the adapter's listener. */
export function tcpEcho(): EchoServer {
  const listener = Deno.listen({ hostname: '127.0.0.1', port: 0 });
  const conns = new Set<Deno.TcpConn>();
  void (async () => {
    try {
      for await (const conn of listener) {
        conn.setNoDelay(true);
        conns.add(conn);
        void (async () => {
          try {
            for await (const chunk of conn.readable) await writeAll(conn, chunk);
          } catch {
            // Closed under us at the end.
          } finally {
            conns.delete(conn);
          }
        })();
      }
    } catch {
      // The listener was closed.
    }
  })();
  return {
    url: `tcp://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    close() {
      for (const conn of conns) quietly(() => conn.close());
      quietly(() => listener.close());
      return Promise.resolve();
    },
  };
}

export async function wsRoundTripper(url: string, advertise: boolean): Promise<RoundTripper> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
  });
  if (advertise) ws.send(TEXT_FRAMES.ADVERTISE);
  let onReply: (() => void) | null = null;
  let onClose: ((code: number) => void) | null = null;
  ws.onmessage = () => onReply?.();
  ws.onclose = (event) => onClose?.(event.code);
  return {
    run(count) {
      const times: number[] = [];
      return new Promise((resolve, reject) => {
        let t0 = 0;
        onClose = (code) => reject(new Error(`socket closed (${code}) during the run`));
        onReply = () => {
          times.push(micros(t0));
          if (times.length === count) {
            onReply = onClose = null;
            return resolve(times);
          }
          t0 = performance.now();
          ws.send(TEXT_FRAMES.PING);
        };
        t0 = performance.now();
        ws.send(TEXT_FRAMES.PING);
      });
    },
    close: () => ws.close(),
  };
}

export async function tcpRoundTripper(url: string, advertise: boolean): Promise<RoundTripper> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  conn.setNoDelay(true);
  if (advertise) await writeAll(conn, BIN.ADVERTISE);
  let pending = 0;
  // Set per run; a holder, so the reader loop below sees each run's handlers.
  const on: { reply: (() => void) | null; close: (() => void) | null } = { reply: null, close: null };
  void (async () => {
    try {
      // A reply is a whole 28-byte frame, however the bytes arrive.
      for await (const chunk of conn.readable) {
        pending += chunk.length;
        while (pending >= BIN.PING.length) {
          pending -= BIN.PING.length;
          on.reply?.();
        }
      }
    } catch {
      // Closed by us.
    }
    on.close?.();
  })();
  return {
    run(count) {
      const times: number[] = [];
      return new Promise((resolve, reject) => {
        let t0 = 0;
        on.close = () => reject(new Error('socket closed during the run'));
        on.reply = () => {
          times.push(micros(t0));
          if (times.length === count) {
            on.reply = on.close = null;
            return resolve(times);
          }
          t0 = performance.now();
          void writeAll(conn, BIN.PING);
        };
        t0 = performance.now();
        void writeAll(conn, BIN.PING);
      });
    },
    close: () => quietly(() => conn.close()),
  };
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) offset += await conn.write(bytes.subarray(offset));
}

function quietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // Already closed.
  }
}
