/** The raw WebSockets a server holds, from upgrade to close: a shutdown waits for them (`empty`). */
export class OpenSockets {
  readonly #open = new Set<WebSocket>();
  #waiters: (() => void)[] = [];

  get size(): number {
    return this.#open.size;
  }

  add(ws: WebSocket): void {
    this.#open.add(ws);
  }

  delete(ws: WebSocket): void {
    this.#open.delete(ws);
    if (this.#open.size > 0) return;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves once every socket has closed (at once when none is open). */
  empty(): Promise<void> {
    if (this.#open.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
