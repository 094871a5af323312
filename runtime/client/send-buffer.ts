/**
 * Application frames sent while no socket carries the connection (before the first open,
 * while reconnecting), flushed in order on the next open. Bounded in bytes: past the
 * limit `push` throws and keeps what it holds, so a frame is never lost without the caller
 * knowing (dropping the oldest would lose frames the app already thought sent).
 */
import type { Frame } from '../codec/index.ts';

/** 1 MiB: the server's default largest frame, so one frame of any size it accepts fits. */
export const DEFAULT_MAX_BUFFERED = 1024 * 1024;

const encoder = new TextEncoder();

/** Bytes a frame takes on the wire (UTF-8 for text). */
export function frameBytes(frame: Frame): number {
  return typeof frame === 'string' ? encoder.encode(frame).byteLength : frame.byteLength;
}

export class SendBuffer {
  readonly #max: number;
  #frames: Frame[] = [];
  #bytes = 0;

  constructor(maxBytes = DEFAULT_MAX_BUFFERED) {
    if (!(maxBytes >= 0)) throw new RangeError(`maxBuffered must be a number of bytes >= 0, got ${maxBytes}`);
    this.#max = maxBytes;
  }

  /** Bytes held (text counted as its UTF-8 length). */
  get bytes(): number {
    return this.#bytes;
  }

  get length(): number {
    return this.#frames.length;
  }

  /** Throws a RangeError, holding nothing new, when the frame would take it past the limit. */
  push(frame: Frame): void {
    const size = frameBytes(frame);
    if (this.#bytes + size > this.#max) {
      throw new RangeError(`send buffer full: ${this.#bytes} of ${this.#max} bytes held while reconnecting, this frame needs ${size} more`);
    }
    this.#frames.push(frame);
    this.#bytes += size;
  }

  /** Everything held, oldest first; the buffer is empty afterwards. */
  drain(): Frame[] {
    const frames = this.#frames;
    this.#frames = [];
    this.#bytes = 0;
    return frames;
  }
}
