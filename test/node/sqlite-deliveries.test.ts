/**
 * Delivery-mode windows in the Node state file (adapters/node/sqlite-deliveries.ts): what a
 * link appends is in the file when `append` returns (a SIGKILL right after loses nothing), an
 * acknowledgement deletes what it covers, `received` lands by the end of the turn, a
 * renumbered window replaces the old one, and a restart drops the windows of connections
 * that were not restored.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteDeliveryStore } from '../../adapters/node/sqlite-deliveries.ts';
import { SqliteSnapshotStore } from '../../adapters/node/sqlite-store.ts';
import { byteLength, type LinkCounters, type WindowEntry } from '../../runtime/delivery/index.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function open(path?: string) {
  const file = path ?? join(mkdtempSync(join(tmpdir(), 'keepalive-deliveries-')), 'state.db');
  if (!path) dirs.push(join(file, '..'));
  const snapshots = new SqliteSnapshotStore(file);
  return { file, snapshots, store: new SqliteDeliveryStore(snapshots) };
}

const entry = (seq: number, data: string | Uint8Array): WindowEntry => ({ seq, data, bytes: byteLength(data) });
const counters = (next: number, floor = 0, received = 0): LinkCounters => ({ epoch: 'conn-1', received, floor, next });
const turn = () => new Promise<void>((resolve) => queueMicrotask(resolve));

describe('delivery windows in the state file', () => {
  it('has each message when append returns (a SIGKILL right after loses none), drops what an acknowledgement covers, and reads it back after a reopen', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'keepalive-deliveries-')), 'state.db');
    dirs.push(join(file, '..'));
    // A process that appends and is SIGKILLed in the same turn: nothing after append ran.
    const script = `
      import { SqliteSnapshotStore } from ${JSON.stringify(new URL('../../adapters/node/sqlite-store.ts', import.meta.url).href)};
      import { SqliteDeliveryStore } from ${JSON.stringify(new URL('../../adapters/node/sqlite-deliveries.ts', import.meta.url).href)};
      const store = new SqliteDeliveryStore(new SqliteSnapshotStore(${JSON.stringify(file)}));
      const p = store.persistence('conn-1');
      const c = (next) => ({ epoch: 'conn-1', received: 0, floor: 0, next });
      p.append({ seq: 1, data: 'one', bytes: 3 }, c(2));
      p.append({ seq: 2, data: new Uint8Array([1, 2, 3]), bytes: 3 }, c(3));
      p.append({ seq: 3, data: 'three', bytes: 5 }, c(4));
      process.kill(process.pid, 'SIGKILL');`;
    const killed = spawnSync(process.execPath, ['--input-type=module', '-e', script]);
    expect(killed.signal).toBe('SIGKILL');

    const first = open(file);
    expect(first.store.load('conn-1')?.entries.map((e) => [e.seq, e.data])).toEqual([
      [1, 'one'],
      [2, new Uint8Array([1, 2, 3])],
      [3, 'three'],
    ]);
    const persistence = first.store.persistence('conn-1');
    persistence.release(1, counters(4, 1));
    persistence.received(counters(4, 1, 7));
    await turn();
    first.snapshots.close();

    const second = open(first.file);
    const loaded = second.store.load('conn-1')!;
    expect(loaded.counters).toEqual(counters(4, 1, 7));
    expect(loaded.entries.map((e) => [e.seq, e.data])).toEqual([
      [2, new Uint8Array([1, 2, 3])],
      [3, 'three'],
    ]);
    expect(second.store.load('conn-2')).toBeUndefined();

    // A fresh history: the window renumbered from 1 replaces the old.
    second.store.persistence('conn-1').renumbered([entry(1, 'three')], counters(2));
    expect(second.store.load('conn-1')!.entries.map((e) => [e.seq, e.data])).toEqual([[1, 'three']]);
    second.snapshots.close();
  });

  it('drops the windows of connections not restored, and a deleted connection leaves nothing', () => {
    const { store, snapshots } = open();
    for (const id of ['kept', 'ended', 'gone']) store.persistence(id).append(entry(1, id), counters(2));
    store.delete('gone');
    expect(store.load('gone')).toBeUndefined();
    store.prune(new Set(['kept']));
    expect(store.load('ended')).toBeUndefined();
    expect(store.load('kept')?.entries.map((e) => e.data)).toEqual(['kept']);
    snapshots.close();
  });
});
