/**
 * Splits a byte stream (TCP, a UNIX socket) into whole libvirt frames by their length
 * word. The limit is checked on the length word, before any payload is buffered, so a
 * peer announcing a huge frame costs four bytes, not the frame.
 */
import { FrameError } from './frame-error.ts';
import { readUint32, VIR_NET_MESSAGE_HEADER_MAX, VIR_NET_MESSAGE_LEN_MAX, VIR_NET_MESSAGE_MAX } from './libvirt.ts';

const EMPTY = new Uint8Array(0);

export class FrameReader {
  readonly #maxBytes: number;
  #buffer: Uint8Array = EMPTY;
  #failed: FrameError | null = null;

  /** `maxBytes` counts the whole frame, length word included. */
  constructor(maxBytes = VIR_NET_MESSAGE_MAX + VIR_NET_MESSAGE_LEN_MAX) {
    this.#maxBytes = maxBytes;
  }

  /**
   * Whole frames completed by `chunk`, and the error that ended the stream, if any. Frames
   * before the error in the same chunk are still returned (they arrived intact); after an
   * error the stream is unusable and every later push fails with no frames.
   */
  push(chunk: Uint8Array): { frames: Uint8Array[]; error: FrameError | null } {
    const frames: Uint8Array[] = [];
    const error = this.read(chunk, (frame) => {
      frames.push(frame);
      return true;
    });
    return { frames, error };
  }

  /**
   * Calls `each` for every whole frame completed by `chunk`, without copying: a frame is a
   * view into `chunk` (or into the reassembly buffer), valid until `each` returns. `each`
   * returns false to stop reading (the connection was closed).
   */
  read(chunk: Uint8Array, each: (frame: Uint8Array) => boolean): FrameError | null {
    if (this.#failed) return this.#failed;
    let data = chunk;
    if (this.#buffer.length > 0) {
      data = new Uint8Array(this.#buffer.length + chunk.length);
      data.set(this.#buffer);
      data.set(chunk, this.#buffer.length);
    }
    let offset = 0;
    while (data.length - offset >= VIR_NET_MESSAGE_LEN_MAX) {
      const length = readUint32(data, offset);
      if (length < VIR_NET_MESSAGE_LEN_MAX + VIR_NET_MESSAGE_HEADER_MAX) {
        return this.#fail(new FrameError('malformed', `length word ${length} is shorter than a libvirt header`));
      }
      if (length > this.#maxBytes) {
        return this.#fail(new FrameError('oversized', `frame of ${length} bytes exceeds the limit of ${this.#maxBytes}`));
      }
      if (data.length - offset < length) break;
      const frame = data.subarray(offset, offset + length);
      offset += length;
      if (!each(frame)) {
        this.#buffer = EMPTY;
        return null;
      }
    }
    // Only the incomplete tail is copied, so a reader never pins a whole socket chunk.
    this.#buffer = offset === data.length ? EMPTY : data.slice(offset);
    return null;
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.#buffer.length;
  }

  #fail(error: FrameError): FrameError {
    this.#failed = error;
    this.#buffer = EMPTY;
    return error;
  }
}
