/**
 * Application data where only JSON goes (hub mail between processes and shards, stored
 * events): text as it is, bytes as base64. Workers have no Buffer, so bytes go through
 * `btoa`/`atob` here, the one base64 helper of the runtime.
 */

/** Application data: a WebSocket text or binary frame. */
type AppData = string | Uint8Array;

/** AppData as JSON carries it. */
export type DataOnWire = { text: string } | { base64: string };

export function dataOnWire(data: AppData): DataOnWire {
  return typeof data === 'string' ? { text: data } : { base64: toBase64(data) };
}

/** The data back; throws a TypeError on anything `dataOnWire` does not write. */
export function dataFromWire(wire: DataOnWire): AppData {
  if ('text' in wire && typeof wire.text === 'string') return wire.text;
  if ('base64' in wire && typeof wire.base64 === 'string') return fromBase64(wire.base64);
  throw new TypeError('application data is { text } or { base64 }');
}

/** Bytes as base64, in chunks: `String.fromCharCode` takes its bytes as arguments, and a call has at most so many. */
export function toBase64(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** Canonical base64 only (padded, no whitespace: what `toBase64` writes); throws a TypeError on anything else. */
export function fromBase64(text: string): Uint8Array {
  if (!isBase64(text)) throw new TypeError('not canonical base64');
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

// atob takes more (whitespace, missing padding), and only `toBase64` ever writes it here.
function isBase64(text: string): boolean {
  return text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text);
}
