/**
 * What one side sent and the peer has not acknowledged yet, in order, bounded in messages
 * and bytes. Past a bound nothing new is taken (`push` returns null) and nothing held is
 * dropped: the sender is told at once, and everything accepted is either acknowledged or,
 * when the peer is gone, handed back to the application as never delivered.
 */
import type { AppData } from '../application/index.ts';

export interface WindowEntry {
  readonly seq: number;
  readonly data: AppData;
  /** Bytes on the wire (text as UTF-8). */
  readonly bytes: number;
}

export interface WindowLimits {
  /** Messages held at most. */
  messages: number;
  /** Bytes held at most (text counted as UTF-8). */
  bytes: number;
}

export class Window {
  readonly #limits: WindowLimits;
  #entries: WindowEntry[];
  /** Index of the oldest held entry in `#entries` (released ones before it are compacted away lazily). */
  #head = 0;
  #bytes = 0;
  #floor: number;
  #next: number;

  constructor(limits: WindowLimits, floor = 0, next = floor + 1, entries: readonly WindowEntry[] = []) {
    for (const [name, value] of Object.entries(limits)) {
      if (!(Number.isInteger(value) && value >= 1)) throw new RangeError(`the delivery window's ${name} must be a whole number >= 1, got ${value}`);
    }
    this.#limits = limits;
    this.#floor = floor;
    this.#next = next;
    this.#entries = [...entries];
    for (const entry of entries) this.#bytes += entry.bytes;
  }

  /** Every sequence number up to this one was acknowledged. */
  get floor(): number {
    return this.#floor;
  }

  /** The next sequence number to give. */
  get next(): number {
    return this.#next;
  }

  get size(): number {
    return this.#entries.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get limits(): Readonly<WindowLimits> {
    return this.#limits;
  }

  /** Held entries, oldest first. */
  get entries(): readonly WindowEntry[] {
    if (this.#head > 0) this.#compact();
    return this.#entries;
  }

  /** Takes `data` with the next sequence number, or returns null (holding nothing new) when it would not fit. */
  push(data: AppData): WindowEntry | null {
    const bytes = byteLength(data);
    if (this.size >= this.#limits.messages || this.#bytes + bytes > this.#limits.bytes) return null;
    const entry: WindowEntry = { seq: this.#next++, data, bytes };
    this.#entries.push(entry);
    this.#bytes += bytes;
    return entry;
  }

  /** Drops every entry up to `seq` (acknowledged). */
  release(seq: number): void {
    if (seq <= this.#floor) return;
    this.#floor = seq;
    while (this.#head < this.#entries.length && this.#entries[this.#head]!.seq <= seq) {
      this.#bytes -= this.#entries[this.#head]!.bytes;
      this.#head++;
    }
    if (this.#head > 64 && this.#head * 2 > this.#entries.length) this.#compact();
  }

  /** A new history: what is held keeps its order, numbered from 1. */
  renumber(): void {
    const held = this.entries;
    this.#entries = held.map((entry, i) => ({ seq: i + 1, data: entry.data, bytes: entry.bytes }));
    this.#head = 0;
    this.#floor = 0;
    this.#next = held.length + 1;
  }

  #compact(): void {
    this.#entries = this.#entries.slice(this.#head);
    this.#head = 0;
  }
}

/** UTF-8 length of a string without encoding it (surrogate pairs count 4). */
export function byteLength(data: AppData): number {
  if (typeof data !== 'string') return data.byteLength;
  let bytes = data.length;
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 2;
      i++;
    } else bytes += 2;
  }
  return bytes;
}
