/**
 * Raw peers for wire-level tests: a bare `ws` WebSocket and a bare TCP socket that
 * record every byte the server sends, so a test sees exactly what went over the wire.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { createLibvirtCodec } from '../../runtime/codec/libvirt.ts';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import type { KeepaliveMessage } from '../../actors/keepalive.ts';

const libvirt = createLibvirtCodec({ advertise: true });
export const FRAME = {
  ADVERTISE: libvirt.encode('ADVERTISE') as Uint8Array,
  PING: libvirt.encode('PING') as Uint8Array,
  PONG: libvirt.encode('PONG') as Uint8Array,
} satisfies Record<KeepaliveMessage, Uint8Array>;

export interface RawWs {
  ws: WebSocket;
  /** Every message received, text as string, binary as bytes. */
  received: (string | Buffer)[];
  /** Set once the socket closed: the code and reason the server gave. */
  closed: { code: number; reason: string } | null;
}

/** Opens a raw WebSocket; with `answer`, replies to each keepalive:PING with keepalive:PONG. */
export function rawWs(url: string, answer = false): Promise<RawWs> {
  const ws = new WebSocket(url);
  const peer: RawWs = { ws, received: [], closed: null };
  ws.on('message', (data, isBinary) => {
    const message = isBinary ? (data as Buffer) : data.toString();
    peer.received.push(message);
    if (answer && message === TEXT_FRAMES.PING) ws.send(TEXT_FRAMES.PONG);
  });
  ws.on('close', (code, reason) => (peer.closed = { code, reason: reason.toString() }));
  ws.on('error', () => {});
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(peer));
    ws.once('error', reject);
  });
}

/** The HTTP status a WebSocket upgrade was answered with: 101 when it opened (the socket is returned). */
export function upgradeStatus(url: string): Promise<{ status: number; ws: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('open', () => resolve({ status: 101, ws }));
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, ws });
      ws.terminate();
    });
    ws.on('error', () => {});
  });
}

export interface RawTcp {
  socket: Socket;
  /** Every byte received, in order. */
  bytes: () => Buffer;
  closed: boolean;
}

/**
 * Opens a raw TCP socket; with `answer`, replies PONG to each PING. Only for peers the
 * server sends nothing but PINGs to, so every whole 28 bytes are one PING.
 */
export function rawTcp(url: string, answer = false): Promise<RawTcp> {
  const { hostname, port } = new URL(url);
  const socket = tcpConnect({ host: hostname, port: Number(port), noDelay: true });
  const chunks: Buffer[] = [];
  let total = 0;
  let answered = 0;
  const peer: RawTcp = { socket, bytes: () => Buffer.concat(chunks), closed: false };
  socket.on('data', (chunk) => {
    chunks.push(chunk);
    total += chunk.length;
    if (!answer) return;
    for (; answered < Math.floor(total / FRAME.PING.length); answered++) socket.write(FRAME.PONG);
  });
  socket.on('close', () => (peer.closed = true));
  socket.on('error', () => {});
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(peer));
    socket.once('error', reject);
  });
}

/** Splits recorded bytes into whole libvirt frames by their length words. */
export function splitFrames(bytes: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  let offset = 0;
  while (offset + 4 <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    if (length < 4 || offset + length > bytes.length) break;
    frames.push(bytes.subarray(offset, offset + length));
    offset += length;
  }
  return frames;
}
