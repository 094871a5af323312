/**
 * KvDeliveryStore on a real Deno KV (a temporary database file): what a new process reads
 * back after sends, acknowledgements and a renumbering, messages larger than a KV value
 * written in parts, and one commit per turn.
 */
import assert from 'node:assert/strict';
import { KvDeliveryStore } from '../../../adapters/deno/kv-deliveries.ts';

const counters = (received: number, floor: number, next: number) => ({ epoch: 'e', received, floor, next });

Deno.test('a new process reads back what was sent and not acknowledged, in order, text and bytes, large ones whole', async () => {
  const dir = await Deno.makeTempDir({ prefix: 'keepalive-kv-deliveries-' });
  try {
    const kv = await Deno.openKv(`${dir}/kv.sqlite3`);
    const store = new KvDeliveryStore(kv);
    await store.preload();
    const link = store.persistence('c1');
    const big = 'é'.repeat(100_000); // 200,000 bytes of UTF-8: four parts
    const bytes = new Uint8Array(150_000).map((_, i) => i % 251);
    const sent = ['one', bytes, big, 'four'];
    sent.forEach((data, i) => link.append({ seq: i + 1, data, bytes: 0 }, counters(0, 0, i + 2)));
    link.release(1, counters(0, 1, 5));
    link.received(counters(7, 1, 5));
    store.persistence('gone').append({ seq: 1, data: 'x', bytes: 1 }, counters(0, 0, 2));
    store.delete('gone');
    await store.flush();
    assert.equal(store.commits, 1, 'one turn, one commit');
    kv.close();

    const again = await Deno.openKv(`${dir}/kv.sqlite3`);
    const reread = new KvDeliveryStore(again);
    await reread.preload();
    const window = reread.load('c1')!;
    assert.deepEqual(window.counters, counters(7, 1, 5));
    assert.deepEqual(window.entries.map((e) => e.seq), [2, 3, 4]);
    assert.deepEqual(window.entries.map((e) => e.data), sent.slice(1));
    assert.equal(reread.load('gone'), undefined);
    // A renumbered window replaces what was there.
    reread.persistence('c1').renumbered([{ seq: 1, data: 'four', bytes: 4 }], { epoch: 'f', received: 0, floor: 0, next: 2 });
    await reread.flush();
    again.close();
    const third = await Deno.openKv(`${dir}/kv.sqlite3`);
    const last = new KvDeliveryStore(third);
    await last.preload();
    assert.deepEqual(last.load('c1')!.entries.map((e) => [e.seq, e.data]), [[1, 'four']]);
    third.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
