/**
 * What one shard passes another (shards.ts): broadcasts, sends and closes, in the order they
 * were made, several to a request. JSON, with binary data in base64 (Workers have no Buffer).
 */
import type { AppData } from '../../runtime/application/index.ts';
import type { ConnectionId } from '../../runtime/host/index.ts';

export type ShardMail =
  | { readonly kind: 'broadcast'; readonly data: AppData; readonly except: readonly ConnectionId[] }
  | { readonly kind: 'send'; readonly id: ConnectionId; readonly data: AppData }
  | { readonly kind: 'close'; readonly id: ConnectionId; readonly reason: string };

type Wire =
  | { k: 'b'; d: string; bin?: 1; x?: ConnectionId[] }
  | { k: 's'; d: string; bin?: 1; id: ConnectionId }
  | { k: 'c'; r: string; id: ConnectionId };

export function encodeMail(mail: readonly ShardMail[]): string {
  const wire = mail.map((m): Wire => {
    if (m.kind === 'close') return { k: 'c', r: m.reason, id: m.id };
    const data = typeof m.data === 'string' ? { d: m.data } : { d: toBase64(m.data), bin: 1 as const };
    return m.kind === 'send' ? { k: 's', ...data, id: m.id } : { k: 'b', ...data, ...(m.except.length ? { x: [...m.except] } : {}) };
  });
  return JSON.stringify(wire);
}

/** Throws on anything that is not mail (only sibling shards call the route). */
export function decodeMail(text: string): ShardMail[] {
  const wire = JSON.parse(text) as Wire[];
  if (!Array.isArray(wire)) throw new TypeError('shard mail is a JSON array');
  return wire.map((w): ShardMail => {
    if (w.k === 'c') return { kind: 'close', id: String(w.id), reason: String(w.r) };
    const data = w.bin ? fromBase64(String(w.d)) : String(w.d);
    if (w.k === 's') return { kind: 'send', id: String(w.id), data };
    if (w.k === 'b') return { kind: 'broadcast', data, except: Array.isArray(w.x) ? w.x.map(String) : [] };
    throw new TypeError(`unknown shard mail "${String((w as { k: unknown }).k)}"`);
  });
}

function toBase64(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

function fromBase64(text: string): Uint8Array {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}
