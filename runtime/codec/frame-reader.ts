/**
 * Splits a byte stream (TCP, a UNIX socket) into whole libvirt frames by their length
 * word. The limit is checked on the length word, before any payload is buffered, so a
 * peer announcing a huge frame costs four bytes, not the frame.
 */
import { FrameError } from './frame-error.ts';
import { VIR_NET_MESSAGE_HEADER_MAX, VIR_NET_MESSAGE_LEN_MAX, VIR_NET_MESSAGE_MAX } from './libvirt.ts';

export class FrameReader {
  readonly #maxBytes: number;
  #buffer: Uint8Array = new Uint8Array(0);
  #failed: FrameError | null = null;

  /** `maxBytes` counts the whole frame, length word included. */
  constructor(maxBytes = VIR_NET_MESSAGE_MAX + VIR_NET_MESSAGE_LEN_MAX) {
    this.#maxBytes = maxBytes;
  }

  /** Whole frames completed by `chunk`; after an error the stream is unusable and keeps failing. */
  push(chunk: Uint8Array): Uint8Array[] | FrameError {
    if (this.#failed) return this.#failed;
    let data = chunk;
    if (this.#buffer.length > 0) {
      data = new Uint8Array(this.#buffer.length + chunk.length);
      data.set(this.#buffer);
      data.set(chunk, this.#buffer.length);
    }
    const frames: Uint8Array[] = [];
    let offset = 0;
    while (data.length - offset >= VIR_NET_MESSAGE_LEN_MAX) {
      const length =
        ((data[offset]! << 24) | (data[offset + 1]! << 16) | (data[offset + 2]! << 8) | data[offset + 3]!) >>> 0;
      if (length < VIR_NET_MESSAGE_LEN_MAX + VIR_NET_MESSAGE_HEADER_MAX) {
        return this.#fail(new FrameError('malformed', `length word ${length} is shorter than a libvirt header`));
      }
      if (length > this.#maxBytes) {
        return this.#fail(new FrameError('oversized', `frame of ${length} bytes exceeds the limit of ${this.#maxBytes}`));
      }
      if (data.length - offset < length) break;
      frames.push(data.slice(offset, offset + length));
      offset += length;
    }
    this.#buffer = offset === data.length ? new Uint8Array(0) : data.slice(offset);
    return frames;
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.#buffer.length;
  }

  #fail(error: FrameError): FrameError {
    this.#failed = error;
    this.#buffer = new Uint8Array(0);
    return error;
  }
}
