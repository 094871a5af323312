/**
 * libvirt's RPC wire format (src/rpc/virnetprotocol.x): a 4-byte big-endian length that
 * counts itself, then the XDR header `prog, vers, proc, type, serial, status` (24 bytes),
 * then the payload. Keepalive is its own program (src/rpc/virkeepaliveprotocol.x).
 */
import type { KeepaliveMessage } from '../../actors/keepalive.ts';
import type { Codec, Frame, Inbound } from './codec.ts';
import { FrameError } from './frame-error.ts';
import { FrameReader } from './frame-reader.ts';

/** virnetprotocol.x */
export const VIR_NET_MESSAGE_LEN_MAX = 4;
export const VIR_NET_MESSAGE_HEADER_MAX = 24;
export const VIR_NET_MESSAGE_MAX = 16777216;
export const MessageType = { CALL: 0, REPLY: 1, MESSAGE: 2, STREAM: 3 } as const;
export const MessageStatus = { OK: 0, ERROR: 1, CONTINUE: 2 } as const;

/** virkeepaliveprotocol.x; ADVERTISE (3) is this project's dialect, never sent to libvirt. */
export const KEEPALIVE_PROGRAM = 0x6b656570;
export const KEEPALIVE_PROTOCOL_VERSION = 1;
export const KeepaliveProc = { PING: 1, PONG: 2, ADVERTISE: 3 } as const satisfies Record<KeepaliveMessage, number>;

export interface MessageHeader {
  prog: number;
  vers: number;
  proc: number;
  type: number;
  serial: number;
  status: number;
}

/** A big-endian unsigned 32-bit word, read in place (no DataView on the hot path). */
export function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

/** One whole frame: length word, header, payload. */
export function encodeMessage(header: MessageHeader, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const length = VIR_NET_MESSAGE_LEN_MAX + VIR_NET_MESSAGE_HEADER_MAX + payload.length;
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, length);
  view.setUint32(4, header.prog);
  view.setUint32(8, header.vers);
  view.setInt32(12, header.proc);
  view.setInt32(16, header.type);
  view.setUint32(20, header.serial);
  view.setInt32(24, header.status);
  bytes.set(payload, VIR_NET_MESSAGE_LEN_MAX + VIR_NET_MESSAGE_HEADER_MAX);
  return bytes;
}

/** A whole frame's header and payload, or why it is not one. */
export function decodeMessage(frame: Uint8Array): { header: MessageHeader; payload: Uint8Array } | FrameError {
  if (frame.length < VIR_NET_MESSAGE_LEN_MAX + VIR_NET_MESSAGE_HEADER_MAX) {
    return new FrameError('truncated', `frame of ${frame.length} bytes is shorter than a libvirt header`);
  }
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const length = view.getUint32(0);
  if (length !== frame.length) {
    return new FrameError('malformed', `length word says ${length} bytes, frame has ${frame.length}`);
  }
  return {
    header: {
      prog: view.getUint32(4),
      vers: view.getUint32(8),
      proc: view.getInt32(12),
      type: view.getInt32(16),
      serial: view.getUint32(20),
      status: view.getInt32(24),
    },
    payload: frame.subarray(VIR_NET_MESSAGE_LEN_MAX + VIR_NET_MESSAGE_HEADER_MAX),
  };
}

// Keepalive frames carry no payload, so each is a fixed 28-byte string of bytes.
const KEEPALIVE_FRAMES = {
  PING: keepaliveFrame(KeepaliveProc.PING),
  PONG: keepaliveFrame(KeepaliveProc.PONG),
  ADVERTISE: keepaliveFrame(KeepaliveProc.ADVERTISE),
} as const satisfies Record<KeepaliveMessage, Uint8Array>;

function keepaliveFrame(proc: number): Uint8Array {
  // virkeepalive.c: VIR_NET_MESSAGE, serial 0, status OK.
  return encodeMessage({
    prog: KEEPALIVE_PROGRAM,
    vers: KEEPALIVE_PROTOCOL_VERSION,
    proc,
    type: MessageType.MESSAGE,
    serial: 0,
    status: MessageStatus.OK,
  });
}

export interface LibvirtCodecOptions {
  /** Accept and send our ADVERTISE (procedure 3). Off when the peer is a real libvirt. */
  advertise?: boolean;
}

/**
 * Frames of other programs are application traffic and count as signs of life (libvirt
 * treats every packet as one); within the keepalive program only PING, PONG (and our
 * ADVERTISE) exist, as VIR_NET_MESSAGE of version 1.
 */
export function createLibvirtCodec(options: LibvirtCodecOptions = {}): Codec {
  const advertise = options.advertise ?? true;
  return {
    name: 'libvirt',
    reader: (maxFrameBytes) => new FrameReader(maxFrameBytes),
    encode(message) {
      if (message === 'ADVERTISE' && !advertise) {
        throw new Error('refusing to send ADVERTISE to a libvirt peer: it negotiates keepalive by CONNECT_SUPPORTS_FEATURE');
      }
      return KEEPALIVE_FRAMES[message];
    },
    decode(frame: Frame): Inbound | FrameError {
      if (typeof frame === 'string') return new FrameError('wrong-frame-kind', 'text frame on the libvirt binary endpoint');
      if (frame.length < VIR_NET_MESSAGE_LEN_MAX + VIR_NET_MESSAGE_HEADER_MAX) {
        return new FrameError('truncated', `frame of ${frame.length} bytes is shorter than a libvirt header`);
      }
      const length = readUint32(frame, 0);
      if (length !== frame.length) {
        return new FrameError('malformed', `length word says ${length} bytes, frame has ${frame.length}`);
      }
      // Header words read in place: this runs for every frame of every connection.
      if (readUint32(frame, 4) !== KEEPALIVE_PROGRAM) return 'MESSAGE';
      const vers = readUint32(frame, 8);
      const proc = readUint32(frame, 12) | 0;
      const type = readUint32(frame, 16) | 0;
      if (vers !== KEEPALIVE_PROTOCOL_VERSION) {
        return new FrameError('wrong-version', `keepalive program version ${vers}, expected ${KEEPALIVE_PROTOCOL_VERSION}`);
      }
      if (type !== MessageType.MESSAGE) {
        return new FrameError('wrong-type', `keepalive message of type ${type}, expected VIR_NET_MESSAGE (2)`);
      }
      if (proc === KeepaliveProc.PING) return 'PING';
      if (proc === KeepaliveProc.PONG) return 'PONG';
      if (proc === KeepaliveProc.ADVERTISE && advertise) return 'ADVERTISE';
      return new FrameError('unknown-procedure', `unknown keepalive procedure ${proc}`);
    },
  };
}
