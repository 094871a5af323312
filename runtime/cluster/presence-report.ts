/**
 * What this process tells the others of the connections it holds (presence.ts is what it
 * hears from them): a row as soon as one opens or ends, the rows whose record changed at
 * each flush (about a second, with state and last sign of life), and everything it holds
 * when asked (a process said hello) or after Redis lost it.
 */
import type { StoredPresence } from '../presence/index.ts';
import type { ConnectionId, Host, HostEvent } from '../host/index.ts';
import { presenceRowOf, type PresenceRow } from '../hub/index.ts';
import type { Dispatch } from './dispatch.ts';
import type { ClusterSnapshots } from './stores.ts';

/** Opened and ended connections are reported this soon, not at the next flush. */
const SOON_MS = 50;

export interface PresenceReportOptions {
  host: Host;
  snapshots: ClusterSnapshots;
  dispatch: Dispatch;
  /** Presence for peers: the state a connection of this process set. */
  own?: ((id: ConnectionId) => StoredPresence | undefined) | undefined;
}

export class PresenceReport {
  readonly #options: PresenceReportOptions;
  /** Connections to list at the next report, and connections gone since the last. */
  #up = new Set<ConnectionId>();
  #down: ConnectionId[] = [];
  #soon: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(options: PresenceReportOptions) {
    this.#options = options;
  }

  hostEvent(event: HostEvent): void {
    if (event.type === 'opened') {
      if (event.role === 'server') this.#up.add(event.id);
    } else if (event.type === 'dead' || event.type === 'closed') {
      this.#up.delete(event.id);
      this.#down.push(event.id);
    } else return;
    this.soon();
  }

  /** A connection that came here (taken over, handed over): listed in the next report. */
  arrived(id: ConnectionId): void {
    this.#up.add(id);
  }

  /** A report within `SOON_MS`, unless one is already due. */
  soon(): void {
    if (this.#soon !== undefined || this.#stopped) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      void this.send(false);
    }, SOON_MS);
  }

  /** Flushes changed records, then tells the other processes what changed (or, `full`, all this one holds). */
  async send(full: boolean): Promise<void> {
    const { host, snapshots, dispatch } = this.#options;
    const written = await snapshots.flush();
    const ids = full ? [...host.ids()] : [...new Set([...this.#up, ...written])];
    this.#up.clear();
    const down = this.#down;
    this.#down = [];
    if (!full && ids.length === 0 && down.length === 0) return;
    const up: PresenceRow[] = [];
    for (const id of ids) {
      const view = host.view(id);
      if (!view) continue;
      up.push(presenceRowOf(id, view, this.#options.own?.(id)));
    }
    await dispatch.toHub({ type: 'rows', full, up, down });
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#soon);
  }
}
