/**
 * Delivery mode's frames on the text dialect (docs/protocol.md, "Delivery mode"). Every
 * one starts `keepalive:`, so in delivery mode nothing on the wire is unframed:
 *
 *   keepalive:DATA <seq> <ack>\n<payload>   an application message; a text frame for a text
 *                                           payload, a binary frame (this header in ASCII,
 *                                           then the bytes) for a binary one
 *   keepalive:PING <ack>, keepalive:PONG <ack>   the keepalive frames, carrying an ack when it moved
 *   keepalive:ACK <ack>                     an acknowledgement alone (at most once per interval)
 *   keepalive:RESUME <epoch> <received> <floor>  first frame of each side on every socket
 *
 * `ack` and `received` are cumulative: every message up to that sequence number arrived.
 * `floor` is the sender's own: its messages up to there were acknowledged and are gone.
 * `epoch` names the server's connection (`-` when the client knows none), so a history is
 * never replayed into another one. A plain `keepalive:PING`/`PONG` carries no ack (nothing
 * moved), which is what a Durable Object answers while it sleeps.
 *
 * Parsing never throws: a frame that is not one of these comes back as a `DeliveryError`.
 */
import type { AppData } from '../application/index.ts';
import type { DeliveryErrorCode } from '../protocol/index.ts';

export const DATA = 'keepalive:DATA ';
export const ACK = 'keepalive:ACK ';
export const RESUME = 'keepalive:RESUME ';
const PING = 'keepalive:PING';
const PONG = 'keepalive:PONG';
const ADVERTISE = 'keepalive:ADVERTISE';

/** The WebSocket subprotocol a client offers to speak delivery mode, and a server selects to agree. */
export const DELIVERY_PROTOCOL = 'keepalive-delivery.1';

/** Sequence numbers are whole numbers below 2^53, written in decimal without leading zeros. */
const MAX_DIGITS = 16;
/** The longest header a DATA frame can have: `keepalive:DATA ` + two numbers, a space and `\n`. */
const MAX_HEADER = DATA.length + 2 * MAX_DIGITS + 2;

export type DeliveryFrame =
  | { kind: 'data'; seq: number; ack: number; data: AppData }
  | { kind: 'ack'; ack: number }
  | { kind: 'ping' | 'pong'; ack: number | null }
  | { kind: 'advertise' }
  | { kind: 'resume'; epoch: string | null; received: number; floor: number };

/** Why a delivery frame was refused; `code` is what the close cause carries. */
export class DeliveryError {
  readonly code: DeliveryErrorCode;
  readonly message: string;
  constructor(code: DeliveryErrorCode, message: string) {
    this.code = code;
    this.message = message;
  }
}

export function encodeData(seq: number, ack: number, data: AppData): AppData {
  const header = `${DATA}${seq} ${ack}\n`;
  if (typeof data === 'string') return header + data;
  const bytes = new Uint8Array(header.length + data.length);
  for (let i = 0; i < header.length; i++) bytes[i] = header.charCodeAt(i);
  bytes.set(data, header.length);
  return bytes;
}

export function encodeKeepalive(message: 'PING' | 'PONG', ack: number | null): string {
  const frame = message === 'PING' ? PING : PONG;
  return ack === null ? frame : `${frame} ${ack}`;
}

export function encodeAck(ack: number): string {
  return `${ACK}${ack}`;
}

export function encodeResume(epoch: string | null, received: number, floor: number): string {
  return `${RESUME}${epoch ?? '-'} ${received} ${floor}`;
}

/** One frame of a delivery-mode connection, or why it is not one. */
export function decodeFrame(frame: AppData): DeliveryFrame | DeliveryError {
  if (typeof frame !== 'string') return decodeBinaryData(frame);
  if (frame === PING) return { kind: 'ping', ack: null };
  if (frame === PONG) return { kind: 'pong', ack: null };
  if (frame === ADVERTISE) return { kind: 'advertise' };
  if (frame.startsWith(DATA)) {
    const end = frame.indexOf('\n', DATA.length);
    if (end < 0 || end > MAX_HEADER) return malformed('DATA without its header line');
    const numbers = twoNumbers(frame.slice(DATA.length, end));
    if (!numbers) return malformed('DATA header is not "<seq> <ack>"');
    return { kind: 'data', seq: numbers[0], ack: numbers[1], data: frame.slice(end + 1) };
  }
  if (frame.startsWith(ACK)) {
    const ack = number(frame.slice(ACK.length));
    return ack === null ? malformed('ACK without a number') : { kind: 'ack', ack };
  }
  if (frame.startsWith(`${PING} `) || frame.startsWith(`${PONG} `)) {
    const ack = number(frame.slice(PING.length + 1));
    if (ack === null) return malformed(`${frame.slice(0, PING.length)} with a bad ack`);
    return { kind: frame.startsWith(PING) ? 'ping' : 'pong', ack };
  }
  if (frame.startsWith(RESUME)) {
    const parts = frame.slice(RESUME.length).split(' ');
    const received = number(parts[1] ?? '');
    const floor = number(parts[2] ?? '');
    const epoch = parts[0] ?? '';
    if (parts.length !== 3 || received === null || floor === null || !/^(-|[A-Za-z0-9_.-]{1,64})$/.test(epoch)) {
      return malformed('RESUME is not "<epoch> <received> <floor>"');
    }
    return { kind: 'resume', epoch: epoch === '-' ? null : epoch, received, floor };
  }
  return malformed(frame.startsWith('keepalive:') ? `unknown frame "${frame.slice(0, 40)}"` : 'an application frame without its DATA header');
}

function decodeBinaryData(frame: Uint8Array): DeliveryFrame | DeliveryError {
  const limit = Math.min(frame.length, MAX_HEADER + 1);
  let end = -1;
  for (let i = 0; i < limit; i++) {
    if (frame[i] === 10) {
      end = i;
      break;
    }
  }
  if (end < 0) return malformed('a binary frame without a DATA header');
  let header = '';
  for (let i = 0; i < end; i++) header += String.fromCharCode(frame[i]!);
  if (!header.startsWith(DATA)) return malformed('a binary frame without a DATA header');
  const numbers = twoNumbers(header.slice(DATA.length));
  if (!numbers) return malformed('DATA header is not "<seq> <ack>"');
  return { kind: 'data', seq: numbers[0], ack: numbers[1], data: frame.subarray(end + 1) };
}

function twoNumbers(text: string): [number, number] | null {
  const space = text.indexOf(' ');
  if (space < 0) return null;
  const a = number(text.slice(0, space));
  const b = number(text.slice(space + 1));
  return a === null || b === null ? null : [a, b];
}

/** A sequence number: decimal digits, no sign, no leading zero, at most 2^53 - 1. */
function number(text: string): number | null {
  if (text.length === 0 || text.length > MAX_DIGITS) return null;
  if (text.length > 1 && text.charCodeAt(0) === 48) return null;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return null;
  }
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

function malformed(message: string): DeliveryError {
  return new DeliveryError('malformed', message);
}
