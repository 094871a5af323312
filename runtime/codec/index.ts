import type { Codec } from './codec.ts';
import { createLibvirtCodec } from './libvirt.ts';
import { createTextCodec, DEFAULT_MAX_TEXT_BYTES } from './text.ts';

export type { Codec, CodecName, Frame, Inbound } from './codec.ts';
export { FrameError, type FrameErrorCode } from './frame-error.ts';
export { FrameReader } from './frame-reader.ts';
export * from './libvirt.ts';
export * from './libvirt-remote.ts';
export { assertApplicationFrame, createTextCodec, TEXT_FRAMES, TEXT_PREFIX } from './text.ts';

/** A codec by name, as a snapshot records it. */
export type CodecSpec = { name: 'text' } | { name: 'libvirt'; advertise: boolean };

export function createCodec(spec: CodecSpec, maxTextBytes = DEFAULT_MAX_TEXT_BYTES): Codec {
  return spec.name === 'text' ? createTextCodec(maxTextBytes) : createLibvirtCodec({ advertise: spec.advertise });
}
export { dataFromWire, dataOnWire, fromBase64, toBase64, type DataOnWire } from './app-data.ts';
