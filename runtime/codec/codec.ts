import type { KeepaliveMessage } from '../../actors/keepalive.ts';
import type { FrameError } from './frame-error.ts';
import type { FrameReader } from './frame-reader.ts';

/** A frame as a transport carries it: a WebSocket text message, or bytes. */
export type Frame = string | Uint8Array;

/** What a decoded frame means to the statechart; `MESSAGE` is any other application message. */
export type Inbound = KeepaliveMessage | 'MESSAGE';

export type CodecName = 'text' | 'libvirt';

/** Decoding never throws: a refused frame comes back as a `FrameError` (no allocation on the good path). */
export interface Codec {
  readonly name: CodecName;
  /** Frames arrive as one byte stream (TCP) and must be split by length prefix first. */
  encode(message: KeepaliveMessage): Frame;
  decode(frame: Frame): Inbound | FrameError;
  /** A byte stream's splitter into this codec's frames (libvirt's length words); none: the codec has no stream form. */
  reader?(maxFrameBytes: number): FrameReader;
}
