/**
 * A hostile peer in its own process, so its CPU is not charged to the server under test:
 * connects, advertises, sends a burst of PINGs, and when the server hangs up connects
 * again, until `ms` have passed. Prints one JSON line with what it saw.
 *
 *   node test/node/flood-peer.ts ws://127.0.0.1:PORT/connect MS BURST
 *   node test/node/flood-peer.ts tcp://127.0.0.1:PORT MS BURST
 */
import { connect as tcpConnect } from 'node:net';
import WebSocket from 'ws';
import { createLibvirtCodec } from '../../runtime/codec/libvirt.ts';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';

export interface FloodReport {
  /** Connections opened (each one flooded until the server closed it). */
  connections: number;
  /** Most PONGs one connection got before it was closed. */
  maxPongs: number;
  /** Distinct close codes and reasons the server gave (WebSocket only). */
  reasons: string[];
  /** Connections the server refused or that failed to open. */
  failed: number;
}

const [url = '', ms = '2000', burst = '5000'] = process.argv.slice(2);
const until = Date.now() + Number(ms);
const report: FloodReport = { connections: 0, maxPongs: 0, reasons: [], failed: 0 };
const libvirt = createLibvirtCodec({ advertise: true });
const FRAME_BYTES = (libvirt.encode('PING') as Uint8Array).length;

function done(): void {
  console.log(JSON.stringify(report));
  process.exit(0);
}

function next(): void {
  if (Date.now() >= until) return done();
  if (url.startsWith('tcp:')) floodTcp();
  else floodWs();
}

function floodWs(): void {
  const ws = new WebSocket(url);
  let pongs = 0;
  ws.on('open', () => {
    report.connections++;
    ws.send(TEXT_FRAMES.ADVERTISE);
    for (let i = 0; i < Number(burst); i++) ws.send(TEXT_FRAMES.PING);
  });
  ws.on('message', (data) => {
    if (data.toString() === TEXT_FRAMES.PONG) report.maxPongs = Math.max(report.maxPongs, ++pongs);
  });
  ws.on('unexpected-response', () => report.failed++);
  ws.on('error', () => {});
  ws.on('close', (code, reason) => {
    const seen = `${code} ${reason.toString()}`;
    if (!report.reasons.includes(seen)) report.reasons.push(seen);
    next();
  });
}

function floodTcp(): void {
  const { hostname, port } = new URL(url);
  const socket = tcpConnect({ host: hostname, port: Number(port), noDelay: true });
  let bytes = 0;
  socket.on('connect', () => {
    report.connections++;
    const ping = libvirt.encode('PING') as Uint8Array;
    const frames = Buffer.alloc(FRAME_BYTES * (Number(burst) + 1));
    frames.set(libvirt.encode('ADVERTISE') as Uint8Array, 0);
    for (let i = 1; i <= Number(burst); i++) frames.set(ping, i * FRAME_BYTES);
    socket.write(frames);
  });
  // The server sends this peer nothing but PONGs: every whole frame is one.
  socket.on('data', (chunk) => {
    bytes += chunk.length;
    report.maxPongs = Math.max(report.maxPongs, Math.floor(bytes / FRAME_BYTES));
  });
  socket.on('error', () => {});
  socket.on('close', next);
}

next();
