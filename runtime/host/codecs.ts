/**
 * One codec per dialect, shared by every connection that speaks it (a codec keeps no
 * per-connection state), made by the host's `codecs` factory. The default speaks the text
 * dialect only, so a host in a page bundles no libvirt framing; a server (and the Node and
 * Deno clients, which speak libvirt over TCP) passes `createCodec`.
 */
import { createTextCodec, type Codec, type CodecSpec } from '../codec/index.ts';

/** Makes the codec of a dialect (`createCodec` makes every one). */
export type CodecFactory = (spec: CodecSpec, maxFrameBytes: number) => Codec;

export const textCodecOnly: CodecFactory = (spec, maxFrameBytes) => {
  if (spec.name !== 'text') throw new TypeError(`this host speaks the text dialect only: give it codecs: createCodec to speak ${spec.name}`);
  return createTextCodec(maxFrameBytes);
};

export class Codecs {
  readonly #byDialect = new Map<string, Codec>();
  readonly #maxFrameBytes: number;
  readonly #make: CodecFactory;

  constructor(maxFrameBytes: number, make: CodecFactory = textCodecOnly) {
    this.#maxFrameBytes = maxFrameBytes;
    this.#make = make;
  }

  for(spec: CodecSpec): Codec {
    const key = spec.name === 'text' ? 'text' : `libvirt:${spec.advertise}`;
    let codec = this.#byDialect.get(key);
    if (!codec) this.#byDialect.set(key, (codec = this.#make(spec, this.#maxFrameBytes)));
    return codec;
  }
}
