/**
 * Who listens to a host, and what that costs: per-frame events (`received`, `sent`) are
 * made only while someone wants them, and `watch`ers (the inspector page) make the host
 * step every frame and report each step. Nobody listening, the fast path pays one check.
 */
import type { HostEvent } from './types.ts';

type Listener = (event: HostEvent) => void;

export class HostListeners {
  readonly #all = new Set<Listener>();
  /** The listeners that want per-frame events; nobody in it, none are made. */
  readonly #frames = new Set<Listener>();
  #watchers = 0;

  /** Someone wants per-frame events. */
  get wantFrames(): boolean {
    return this.#frames.size > 0;
  }

  /** A `watch` listener is attached: every frame is stepped and steps are reported. */
  get watched(): boolean {
    return this.#watchers > 0;
  }

  subscribe(listener: Listener, options: { frames?: boolean } = {}): () => void {
    this.#all.add(listener);
    if (options.frames ?? true) this.#frames.add(listener);
    return () => {
      this.#frames.delete(listener);
      return this.#all.delete(listener);
    };
  }

  watch(listener: Listener): () => void {
    const unsubscribe = this.subscribe(listener);
    this.#watchers++;
    let watching = true;
    return () => {
      if (!watching) return;
      watching = false;
      this.#watchers--;
      unsubscribe();
    };
  }

  emit(event: HostEvent): void {
    for (const listener of this.#all) listener(event);
  }

  emitFrame(event: HostEvent): void {
    for (const listener of this.#frames) listener(event);
  }
}
