/**
 * Figure 1 worker: builds N idle connections of one kind and reports the heap they hold
 * after a full GC, per connection; then drops them and does it again, ROUNDS times. One
 * process per kind, so kinds never share a heap; heapUsed after GC counts only live
 * objects, so a dropped round leaves nothing behind in the next.
 *
 *   node --expose-gc bench/workers/idle-heap.ts KIND N ROUNDS
 *
 * Every connection is opened, advertised and has one unfolded sign of life (a PONG), as
 * an idle peer between two keepalive rounds looks. Ids are generated inside the measured
 * region for every kind (the host's flat 21-character ids), since a connection needs one.
 */
import { Host } from '../../runtime/host/host.ts';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import type { SnapshotStore } from '../../runtime/host/store.ts';
import { IdleRecords } from '../baselines/idle-record.ts';
import { runChild } from '../lib/spawn.ts';

export const IDLE_KINDS = ['host', 'host-no-store', 'host-live-actors', 'record'] as const;
export type IdleKind = (typeof IDLE_KINDS)[number];

const INTERVAL = 5000;
const COUNT = 5;

/** Snapshots written somewhere else (a database, Durable Object storage): nothing kept in this heap. */
const elsewhere: SnapshotStore = { load: () => [], save: () => {}, delete: () => {} };

function build(kind: IdleKind, n: number): { size: number } {
  if (kind === 'record') {
    const records = new IdleRecords();
    for (let i = 0; i < n; i++) {
      const id = records.open(0, INTERVAL, COUNT);
      records.receive(id, 1, true);
      records.receive(id, 2, false);
    }
    return records;
  }
  const host = new Host({
    transport: { send: () => {}, close: () => {} },
    now: () => 0,
    defaults: { interval: INTERVAL, count: COUNT },
    ...(kind === 'host-no-store' ? { store: elsewhere } : {}),
    // Only an inspected host runs live actors.
    ...(kind === 'host-live-actors' ? { inspect: () => {} } : {}),
  });
  for (let i = 0; i < n; i++) {
    const id = host.open({ role: 'server', at: 0 });
    host.receive(id, TEXT_FRAMES.ADVERTISE, 1);
    host.receive(id, TEXT_FRAMES.PONG, 2);
  }
  return host;
}

function settledHeap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

if (import.meta.main) runChild(async () => {
  const kind = process.argv[2] as IdleKind;
  const n = Number(process.argv[3]);
  const rounds = Number(process.argv[4] ?? 1);
  if (!IDLE_KINDS.includes(kind) || !(n > 0)) throw new Error(`usage: idle-heap.ts ${IDLE_KINDS.join('|')} N ROUNDS`);
  build(kind, 1000); // warm up: shared code, the machine, the host's shared scope
  const bytesPerConnection: number[] = [];
  const buildMs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const before = settledHeap();
    const started = performance.now();
    let built: { size: number } | null = build(kind, n);
    buildMs.push(performance.now() - started);
    const after = settledHeap();
    if (built.size !== n) throw new Error(`built ${built.size} connections, expected ${n}`);
    built = null;
    bytesPerConnection.push((after - before) / n);
  }
  return { type: 'idle', kind, n, bytesPerConnection, buildMs };
});
