/**
 * KvSnapshotStore on a real Deno KV (a temporary database file): what a new process
 * would load, write ordering under bursts, sealing on shutdown, malformed records.
 */
import assert from 'node:assert/strict';
import { Host } from '../../../runtime/host/host.ts';
import type { StoredConnection } from '../../../runtime/host/store.ts';
import type { Transport } from '../../../runtime/host/types.ts';
import { KvSnapshotStore } from '../../../adapters/deno/kv-store.ts';
import { createCodec } from '../../../runtime/codec/index.ts';

const silent: Transport = { send() {}, close() {} };

async function tempKv(): Promise<{ kv: Deno.Kv; path: string; reopen(): Promise<Deno.Kv>; [Symbol.asyncDispose](): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: 'keepalive-kv-' });
  const path = `${dir}/kv.sqlite3`;
  const opened: Deno.Kv[] = [];
  const open = async () => {
    const kv = await Deno.openKv(path);
    opened.push(kv);
    return kv;
  };
  return {
    kv: await open(),
    path,
    reopen: open,
    async [Symbol.asyncDispose]() {
      for (const kv of opened) {
        try {
          kv.close();
        } catch {
          // closed by the test
        }
      }
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const markerOf = (r: StoredConnection | null | undefined) => (r?.snapshot as unknown as { marker: number }).marker;

function record(id: string, marker: number): StoredConnection {
  return { id, codec: { name: 'text' }, stream: false, snapshot: { status: 'active', marker } as never };
}

Deno.test('a new handle on the same file loads exactly the snapshots the host left', async () => {
  await using db = await tempKv();
  let now = 1_000;
  const store = new KvSnapshotStore(db.kv);
  const host = new Host({ codecs: createCodec, transport: silent, store, now: () => now, defaults: { interval: 100, count: 2 } });
  const a = host.open({ role: 'server', meta: { transport: 'ws' } });
  const b = host.open({ role: 'client', codec: { name: 'libvirt', advertise: true }, stream: true });
  const c = host.open({ role: 'server' });
  host.receive(a, 'keepalive:ADVERTISE', (now = 1_010));
  host.receive(a, 'keepalive:PING', (now = 1_050));
  host.tick((now = 1_150)); // b PINGs (client: timing from open)
  host.close(c, 'bye');
  await host.persistAll();
  db.kv.close();

  const loaded = await new KvSnapshotStore(await db.reopen()).load();
  const byId = new Map(loaded.map((r) => [r.id, r]));
  assert.deepEqual([...byId.keys()].sort(), [a, b].sort(), 'the closed connection was deleted');
  assert.deepEqual(byId.get(a), host.snapshot(a));
  assert.deepEqual(byId.get(b), host.snapshot(b));
  assert.equal(byId.get(b)!.stream, true);
  assert.deepEqual(byId.get(a)!.meta, { transport: 'ws' });

  // And a host restored from them carries on with the same counters and deadlines.
  const again = new Host({ codecs: createCodec, transport: silent, now: () => now });
  assert.deepEqual(again.restore(loaded, now).sort(), [a, b].sort());
  assert.deepEqual(again.view(a), host.view(a));
  assert.deepEqual(again.view(b), host.view(b));
});

Deno.test('a burst of saves for one id is written in order, coalesced, and a delete is never overtaken', async () => {
  await using db = await tempKv();
  const store = new KvSnapshotStore(db.kv);
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 50; i++) writes.push(store.save(record('x', i)));
  await Promise.all(writes);
  // The first write and the last one waiting: not fifty.
  assert.equal(store.writes, 2);
  assert.equal(markerOf((await db.kv.get<StoredConnection>(['keepalive', 'connections', 'x'])).value), 49);

  void store.save(record('y', 1));
  void store.save(record('y', 2));
  await store.delete('y');
  assert.equal((await db.kv.get(['keepalive', 'connections', 'y'])).value, null);
  assert.deepEqual((await store.load()).map((r) => r.id), ['x']);
});

Deno.test('seal waits for every write, then leaves what is stored alone', async () => {
  await using db = await tempKv();
  const store = new KvSnapshotStore(db.kv);
  void store.save(record('a', 1));
  void store.save(record('a', 2));
  await store.seal();
  await store.delete('a');
  await store.save(record('b', 1));
  const loaded = await store.load();
  assert.deepEqual(loaded.map((r) => [r.id, markerOf(r)]), [['a', 2]]);
});

Deno.test('prefixes keep servers apart; a malformed record is reported and skipped', async () => {
  await using db = await tempKv();
  const errors: unknown[] = [];
  const one = new KvSnapshotStore(db.kv, { prefix: ['one'], onError: (e) => errors.push(e) });
  const two = new KvSnapshotStore(db.kv, { prefix: ['two'] });
  await one.save(record('a', 1));
  await two.save(record('b', 1));
  await db.kv.set(['one', 'junk'], { hello: 'world' });
  assert.deepEqual((await one.load()).map((r) => r.id), ['a']);
  assert.deepEqual((await two.load()).map((r) => r.id), ['b']);
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /malformed record at \["one","junk"\]/);
});

Deno.test('a failed write is reported, never thrown at the host', async () => {
  await using db = await tempKv();
  const errors: unknown[] = [];
  const store = new KvSnapshotStore(db.kv, { onError: (e) => errors.push(e) });
  db.kv.close();
  await store.save(record('a', 1));
  await store.delete('a');
  assert.equal(errors.length, 2);
});
