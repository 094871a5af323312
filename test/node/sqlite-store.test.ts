/**
 * The SQLite snapshot store on real files in a temp dir: what is written is what a new
 * store on the same file reads, a second store cannot open a file in use, a bad row is
 * an error that names it, and a host mid-probe resumes from the file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { endText } from '../../runtime/protocol/end-cause.ts';
import { SqliteSnapshotStore } from '../../adapters/node/sqlite-store.ts';
import { Host } from '../../runtime/host/host.ts';
import type { StoredConnection } from '../../runtime/host/store.ts';
import { LinkTransport } from '../support/sim.ts';
import { createCodec } from '../../runtime/codec/index.ts';

const dirs: string[] = [];
const stores: SqliteSnapshotStore[] = [];

afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function statePath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keepalive-sqlite-'));
  dirs.push(dir);
  return join(dir, 'state.db');
}

function open(path: string): SqliteSnapshotStore {
  const store = new SqliteSnapshotStore(path);
  stores.push(store);
  return store;
}

/** A real record: a server connection stepped by a host, mid-probe. */
function records(): StoredConnection[] {
  let now = 1_000;
  const host = new Host({ codecs: createCodec, transport: new LinkTransport(), now: () => now });
  host.open({ id: 'ws-1', role: 'server', interval: 1000, count: 3, meta: { sessionHash: 'ab'.repeat(32) } });
  host.receive('ws-1', 'keepalive:ADVERTISE');
  host.open({ id: 'tcp-1', role: 'server', codec: { name: 'libvirt', advertise: true }, stream: true, meta: { transport: 'tcp' } });
  host.tick((now = 2_000));
  return [host.snapshot('tcp-1')!, host.snapshot('ws-1')!];
}

describe('SqliteSnapshotStore', () => {
  it('reads back exactly what it wrote, after an update, a delete and a reopen', () => {
    const path = statePath();
    const [tcp, ws] = records();
    let store = open(path);
    expect(store.load()).toEqual([]);
    store.save(ws!);
    store.save(tcp!);
    expect(store.load()).toEqual([tcp, ws]);

    const updated = structuredClone(ws!);
    (updated.snapshot as unknown as { context: { pingsSent: number } }).context.pingsSent = 7;
    store.save(updated);
    expect(store.size).toBe(2);
    expect(store.load()).toEqual([tcp, updated]);

    store.delete('tcp-1');
    store.delete('never-stored');
    expect(store.load()).toEqual([updated]);

    store.close();
    store = open(path);
    expect(store.load()).toEqual([updated]);
  });

  it('keeps the file locked while open: a second store (another server) is refused with a clear error', () => {
    const path = statePath();
    const first = open(path);
    first.save(records()[0]!);
    expect(() => new SqliteSnapshotStore(path)).toThrow(`state file ${path} is in use by another process`);
    first.close();
    expect(open(path).load()).toHaveLength(1);
  });

  it('ignores writes once closed, so a shutting-down server cannot change what the next one finds', () => {
    const path = statePath();
    const [tcp, ws] = records();
    const store = open(path);
    store.save(ws!);
    store.close();
    expect(store.closed).toBe(true);
    store.save(tcp!);
    store.delete('ws-1');
    expect(open(path).load()).toEqual([ws]);
  });

  it('refuses a row it cannot read, naming it, instead of forgetting that connection', () => {
    const path = statePath();
    open(path).save(records()[1]!);
    stores.pop()!.close();
    const raw = new DatabaseSync(path);
    raw.prepare('INSERT INTO connections (id, record) VALUES (?, ?)').run('broken', '{"id": "broken", "snap');
    raw.prepare('INSERT INTO connections (id, record) VALUES (?, ?)').run('other', JSON.stringify({ id: 'someone-else', snapshot: {} }));
    raw.close();
    const store = open(path);
    expect(() => store.load()).toThrow(/connection broken is unreadable/);
    store.delete('broken');
    expect(() => store.load()).toThrow(/connection other is not a stored connection/);
  });

  it('refuses a file written by a newer schema, and a file that is not a database', () => {
    const path = statePath();
    const raw = new DatabaseSync(path);
    raw.exec('PRAGMA user_version = 99');
    raw.close();
    expect(() => new SqliteSnapshotStore(path)).toThrow(/written by a newer version \(schema 99/);
    const junk = join(dirname(path), 'junk.db');
    writeFileSync(junk, 'not a database, just text that is long enough to have a header'.repeat(10));
    expect(() => new SqliteSnapshotStore(junk)).toThrow(/cannot use .*junk\.db as a state file/);
    expect(() => new SqliteSnapshotStore(join(dirname(path), 'missing', 'state.db'))).toThrow(/cannot open .*missing\/state\.db as a state file: unable to open/);
  });

  it('is written before the effects of a step, and a host on a reopened file resumes mid-probe', () => {
    const path = statePath();
    let now = 0;
    const store = open(path);
    const onWire: string[] = [];
    const transport = {
      send: (id: string, frame: string | Uint8Array) => {
        // The snapshot of the step that sent this is already in the file.
        const stored = store.load().find((r) => r.id === id)!.snapshot as unknown as { context: { pingsSent: number } };
        onWire.push(`${now}:${String(frame)}:stored pingsSent=${stored.context.pingsSent}`);
      },
      close: () => {},
    };
    const host = new Host({ codecs: createCodec, transport, store, now: () => now });
    host.open({ id: 'p', role: 'server', interval: 1000, count: 2 });
    host.receive('p', 'keepalive:ADVERTISE');
    host.tick((now = 1000));
    expect(onWire).toEqual(['1000:keepalive:PING:stored pingsSent=1']);
    // The process "dies" here: no persistAll, the store is just let go.
    store.close();

    now = 1500;
    const reopened = open(path);
    const closed: string[] = [];
    const next = new Host({ codecs: createCodec, transport: { send: () => {}, close: (_, cause) => closed.push(`${now}:${endText(cause)}`) }, store: reopened, now: () => now });
    expect(next.restore(reopened.load(), now)).toEqual(['p']);
    expect(next.view('p')).toMatchObject({ state: 'alive.probing', unanswered: 1, pingsSent: 1, wakeAt: 2000, lastSignOfLife: 0 });
    for (now = 1500; now <= 3000; now += 100) next.tick(now);
    expect(closed).toEqual(['3000:peer dead: silent for 3000 ms, 2 keepalive PING(s) unanswered']);
    expect(reopened.load()).toEqual([]);
  });
});
