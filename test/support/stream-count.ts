/**
 * Counts one direction of a stream of numbered messages (`<prefix><n>`, n from 0): what
 * arrived once, what never did, what came twice, and what came out of order. Shared by the
 * delivery tests (which assert on it) and the comparison with Socket.IO (which tabulates it).
 */
export interface StreamCount {
  sent: number;
  /** Distinct messages that arrived. */
  delivered: number;
  lost: number;
  duplicated: number;
  /** Arrivals of a message numbered below one that arrived before it. */
  outOfOrder: number;
}

export class StreamTally {
  readonly #prefix: string;
  #sent = 0;
  readonly #seen = new Set<number>();
  #duplicated = 0;
  #outOfOrder = 0;
  #highest = -1;
  readonly arrivals: number[] = [];

  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  /** The next message to send. */
  next(): string {
    return `${this.#prefix}${this.#sent++}`;
  }

  /** A message arrived (anything not of this stream is an error: a test's mix-up). */
  arrived(message: string): void {
    if (!message.startsWith(this.#prefix)) throw new Error(`not of stream ${this.#prefix}: ${message.slice(0, 40)}`);
    const n = Number(message.slice(this.#prefix.length));
    this.arrivals.push(n);
    if (this.#seen.has(n)) this.#duplicated++;
    else this.#seen.add(n);
    if (n < this.#highest) this.#outOfOrder++;
    this.#highest = Math.max(this.#highest, n);
  }

  get sent(): number {
    return this.#sent;
  }

  /** The stream's other end sent `n` in all (it numbered them itself). */
  sentElsewhere(n: number): void {
    this.#sent = n;
  }

  get count(): StreamCount {
    return { sent: this.#sent, delivered: this.#seen.size, lost: this.#sent - this.#seen.size, duplicated: this.#duplicated, outOfOrder: this.#outOfOrder };
  }

  /** Every message sent arrived exactly once, in order. */
  get exact(): boolean {
    const c = this.count;
    return c.lost === 0 && c.duplicated === 0 && c.outOfOrder === 0;
  }
}

/** Calls `cut` at random moments `min` to `max` ms apart until stopped. */
export function cutEvery(min: number, max: number, cut: () => void, random: () => number = Math.random): { stop(): void; readonly cuts: number } {
  let cuts = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    timer = setTimeout(() => {
      cuts++;
      cut();
      arm();
    }, min + random() * (max - min));
  };
  arm();
  return {
    stop: () => clearTimeout(timer),
    get cuts() {
      return cuts;
    },
  };
}
