/**
 * One deadline per key in an indexed binary min-heap: the host arms a single platform
 * timer at `peek()` and pops only what is due, so waking costs O(due · log N), never a
 * sweep over every connection.
 */
export class TimerQueue<K> {
  #keys: K[] = [];
  #times: number[] = [];
  #index = new Map<K, number>();

  get size(): number {
    return this.#keys.length;
  }

  /** Earliest deadline, or null when nothing is scheduled. */
  peek(): number | null {
    return this.#times.length > 0 ? this.#times[0]! : null;
  }

  get(key: K): number | undefined {
    const i = this.#index.get(key);
    return i === undefined ? undefined : this.#times[i];
  }

  /** Schedules `key` at `at`, or reschedules it; `null` unschedules. */
  set(key: K, at: number | null): void {
    if (at === null) {
      this.delete(key);
      return;
    }
    const i = this.#index.get(key);
    if (i === undefined) {
      this.#keys.push(key);
      this.#times.push(at);
      this.#index.set(key, this.#keys.length - 1);
      this.#up(this.#keys.length - 1);
      return;
    }
    const before = this.#times[i]!;
    this.#times[i] = at;
    if (at < before) this.#up(i);
    else if (at > before) this.#down(i);
  }

  delete(key: K): boolean {
    const i = this.#index.get(key);
    if (i === undefined) return false;
    const last = this.#keys.length - 1;
    this.#swap(i, last);
    this.#keys.pop();
    this.#times.pop();
    this.#index.delete(key);
    if (i < last) {
      this.#down(i);
      this.#up(i);
    }
    return true;
  }

  /** Removes and returns the earliest key if its deadline is at or before `now`. */
  popDue(now: number): K | undefined {
    if (this.#times.length === 0 || this.#times[0]! > now) return undefined;
    const key = this.#keys[0]!;
    this.delete(key);
    return key;
  }

  #up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#times[parent]! <= this.#times[i]!) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const n = this.#keys.length;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < n && this.#times[left]! < this.#times[least]!) least = left;
      if (right < n && this.#times[right]! < this.#times[least]!) least = right;
      if (least === i) return;
      this.#swap(i, least);
      i = least;
    }
  }

  #swap(a: number, b: number): void {
    if (a === b) return;
    const key = this.#keys[a]!;
    const time = this.#times[a]!;
    this.#keys[a] = this.#keys[b]!;
    this.#times[a] = this.#times[b]!;
    this.#keys[b] = key;
    this.#times[b] = time;
    this.#index.set(this.#keys[a]!, a);
    this.#index.set(key, b);
  }
}
