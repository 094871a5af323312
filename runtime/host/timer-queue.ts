/**
 * One deadline per key in an indexed binary min-heap: the host arms a single platform
 * timer at `peek()` and pops only what is due, so waking costs O(due · log N), never a
 * sweep over every connection.
 *
 * Each key's entry carries its own heap position, so sifting moves entries and updates
 * a field; a `Map` of positions cost two hash writes per level and showed as the heap's
 * main cost in profiles of the host's tick.
 *
 * A popped key keeps its entry, parked off the heap, until it is set again or deleted: the
 * host reschedules every connection it pops, once per interval, and a fresh entry (and map
 * slot) each time would live exactly an interval, long enough to be promoted and fill the
 * old generation (figure 9).
 */
interface Entry<K> {
  readonly key: K;
  at: number;
  /** Position in the heap; PARKED once popped. */
  index: number;
}

const PARKED = -1;

export class TimerQueue<K> {
  #heap: Entry<K>[] = [];
  #entries = new Map<K, Entry<K>>();

  get size(): number {
    return this.#heap.length;
  }

  /** Earliest deadline, or null when nothing is scheduled. */
  peek(): number | null {
    return this.#heap.length > 0 ? this.#heap[0]!.at : null;
  }

  get(key: K): number | undefined {
    const entry = this.#entries.get(key);
    return entry === undefined || entry.index === PARKED ? undefined : entry.at;
  }

  /** Schedules `key` at `at`, or reschedules it; `null` unschedules. */
  set(key: K, at: number | null): void {
    if (at === null) {
      this.delete(key);
      return;
    }
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      const added: Entry<K> = { key, at, index: this.#heap.length };
      this.#entries.set(key, added);
      this.#heap.push(added);
      this.#up(added);
      return;
    }
    if (entry.index === PARKED) {
      entry.at = at;
      entry.index = this.#heap.length;
      this.#heap.push(entry);
      this.#up(entry);
      return;
    }
    const before = entry.at;
    entry.at = at;
    if (at < before) this.#up(entry);
    else if (at > before) this.#down(entry);
  }

  delete(key: K): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#entries.delete(key);
    if (entry.index === PARKED) return false;
    this.#remove(entry.index);
    return true;
  }

  /** Removes and returns the earliest key if its deadline is at or before `now` (its entry parked for its next `set`). */
  popDue(now: number): K | undefined {
    const top = this.#heap[0];
    if (top === undefined || top.at > now) return undefined;
    this.#remove(0);
    top.index = PARKED;
    return top.key;
  }

  /** Fills slot `i` with the last entry and restores the heap order around it. */
  #remove(i: number): void {
    const last = this.#heap.pop()!;
    if (i === this.#heap.length) return;
    this.#heap[i] = last;
    last.index = i;
    this.#down(last);
    this.#up(last);
  }

  #up(entry: Entry<K>): void {
    const heap = this.#heap;
    let i = entry.index;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (parent.at <= entry.at) break;
      heap[i] = parent;
      parent.index = i;
      i = p;
    }
    heap[i] = entry;
    entry.index = i;
  }

  #down(entry: Entry<K>): void {
    const heap = this.#heap;
    const n = heap.length;
    let i = entry.index;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && heap[right]!.at < heap[child]!.at) child = right;
      const least = heap[child]!;
      if (least.at >= entry.at) break;
      heap[i] = least;
      least.index = i;
      i = child;
    }
    heap[i] = entry;
    entry.index = i;
  }
}
