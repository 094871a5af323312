/** One codec per dialect, shared by every connection that speaks it (a codec keeps no per-connection state). */
import { createCodec, type Codec, type CodecSpec } from '../codec/index.ts';

export class Codecs {
  readonly #byDialect = new Map<string, Codec>();
  readonly #maxFrameBytes: number;

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  for(spec: CodecSpec): Codec {
    const key = spec.name === 'text' ? 'text' : `libvirt:${spec.advertise}`;
    let codec = this.#byDialect.get(key);
    if (!codec) this.#byDialect.set(key, (codec = createCodec(spec, this.#maxFrameBytes)));
    return codec;
  }
}
