/**
 * Figure 5 clients on Node (`ws` and `net`): one connection each, PING after PONG, timing
 * every round trip with the monotonic clock. The same client code talks to the adapter
 * and to the echo baseline; only whether it first sends ADVERTISE differs (an echo would
 * answer it).
 */
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { createLibvirtCodec } from '../../runtime/codec/libvirt.ts';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import type { RoundTripper } from './round-trips.ts';

const libvirt = createLibvirtCodec({ advertise: true });
const BIN = { ADVERTISE: libvirt.encode('ADVERTISE') as Uint8Array, PING: libvirt.encode('PING') as Uint8Array };

const micros = (since: bigint) => Number(process.hrtime.bigint() - since) / 1000;

export async function wsRoundTripper(url: string, advertise: boolean): Promise<RoundTripper> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  if (advertise) ws.send(TEXT_FRAMES.ADVERTISE);
  let onReply: (() => void) | null = null;
  ws.on('message', () => onReply?.());
  return {
    run(count) {
      const times: number[] = [];
      return new Promise((resolve, reject) => {
        let t0 = 0n;
        ws.once('close', (code) => reject(new Error(`socket closed (${code}) during the run`)));
        onReply = () => {
          times.push(micros(t0));
          if (times.length === count) return void ((onReply = null), resolve(times));
          t0 = process.hrtime.bigint();
          ws.send(TEXT_FRAMES.PING);
        };
        t0 = process.hrtime.bigint();
        ws.send(TEXT_FRAMES.PING);
      });
    },
    close: () => ws.terminate(),
  };
}

export async function tcpRoundTripper(url: string, advertise: boolean): Promise<RoundTripper> {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect({ host: hostname, port: Number(port), noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  if (advertise) socket.write(BIN.ADVERTISE);
  let pending = 0;
  let onReply: (() => void) | null = null;
  // A reply is a whole 28-byte frame, however the bytes arrive.
  socket.on('data', (chunk) => {
    pending += chunk.length;
    while (pending >= BIN.PING.length) {
      pending -= BIN.PING.length;
      onReply?.();
    }
  });
  return {
    run(count) {
      const times: number[] = [];
      return new Promise((resolve, reject) => {
        let t0 = 0n;
        socket.once('close', () => reject(new Error('socket closed during the run')));
        onReply = () => {
          times.push(micros(t0));
          if (times.length === count) return void ((onReply = null), resolve(times));
          t0 = process.hrtime.bigint();
          socket.write(BIN.PING);
        };
        t0 = process.hrtime.bigint();
        socket.write(BIN.PING);
      });
    },
    close: () => socket.destroy(),
  };
}
