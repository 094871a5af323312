/**
 * Where one idle, answering WebSocket connection's memory goes, on figure 9's servers:
 *
 *   node bench/tools/connection-heap.ts [N] [KINDS]      e.g. 5000 adapter,ws-recipe
 *
 * Per kind, one server process (`bench/workers/live-server.ts`) gets 500 warm-up peers,
 * then a heap snapshot after a full GC; then N more peers, two intervals, and another.
 * Printed per connection: the live heap's growth by class (self sizes, B minus A, over N),
 * the objects that come one per connection and what each retains (dominator tree), and
 * the process's memory (RSS, heap, external) over the same step; then where the objects
 * come from that outlive a scavenge and die later (what fills the old generation).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchFile } from '../lib/paths.ts';
import { HeapSnapshot } from '../lib/heap-snapshot.ts';
import { spawnNode, type NodeChild } from '../lib/spawn.ts';

const n = Number(process.argv[2] ?? 5000);
const kinds = (process.argv[3] ?? 'adapter,ws-recipe').split(',');
const INTERVAL = 1000;
const WARM = 500;

interface Taken {
  type: string;
  connections: number;
  memory: NodeJS.MemoryUsage;
}

async function peers(url: string, count: number, kind: string): Promise<NodeChild> {
  const child = spawnNode(benchFile('workers/live-clients.ts'), [url, String(count), kind === 'ws-recipe' ? 'ws-ping' : 'keepalive']);
  const opened = await child.next<{ type: string; open: number }>('connected', 300_000);
  if (opened.open !== count) throw new Error(`${opened.open} of ${count} peers connected`);
  return child;
}

const kib = (bytes: number) => (bytes / 1024).toFixed(2);

for (const kind of kinds) {
  const dir = await mkdtemp(join(tmpdir(), 'conn-heap-'));
  const server = spawnNode(benchFile('workers/live-server.ts'), [kind, String(INTERVAL)]);
  const children = [server];
  try {
    const { url } = await server.next<{ type: string; url: string }>('ready', 30_000);
    const settle = () => new Promise((resolve) => setTimeout(resolve, 2 * INTERVAL + 500));
    const snapshot = async (name: string) => {
      server.send({ type: 'snapshot', path: join(dir, name) });
      return server.next<Taken>('snapshot', 300_000);
    };
    children.push(await peers(url, WARM, kind));
    await settle();
    const a = await snapshot('a.heapsnapshot');
    children.push(await peers(url, n, kind));
    await settle();
    const b = await snapshot('b.heapsnapshot');
    type Sites = { type: string; sites: { site: string; bytes: number }[] };
    server.send({ type: 'allocations', seconds: 10, promotedOnly: false });
    const allocated = await server.next<Sites>('allocations', 60_000);
    server.send({ type: 'allocations', seconds: 10, promotedOnly: true });
    const promoted = await server.next<Sites>('allocations', 60_000);
    const added = b.connections - a.connections;
    const [before, after] = [await HeapSnapshot.read(join(dir, 'a.heapsnapshot')), await HeapSnapshot.read(join(dir, 'b.heapsnapshot'))];
    console.log(`\n## ${kind}: ${added} connections added (${a.connections} -> ${b.connections})`);
    const m = (key: keyof NodeJS.MemoryUsage) => kib((b.memory[key] - a.memory[key]) / added);
    console.log(`process per connection, KiB: rss ${m('rss')}, heapTotal ${m('heapTotal')}, heapUsed ${m('heapUsed')}, external ${m('external')}, arrayBuffers ${m('arrayBuffers')}`);
    const classesA = before.byClass();
    const rows = [...after.byClass()]
      .map(([name, row]) => ({ name, count: (row.count - (classesA.get(name)?.count ?? 0)) / added, bytes: (row.bytes - (classesA.get(name)?.bytes ?? 0)) / added }))
      .filter((row) => Math.abs(row.bytes) >= 8)
      .sort((x, y) => y.bytes - x.bytes);
    const total = rows.reduce((s, r) => s + r.bytes, 0);
    console.log(`live heap per connection by class (self sizes), total ${total.toFixed(0)} B:`);
    for (const row of rows.slice(0, 40)) console.log(`  ${row.bytes.toFixed(0).padStart(6)} B  ${row.count.toFixed(2).padStart(6)} objects  ${row.name}`);
    console.log(`one per connection (dominated by one holder), mean retained size:`);
    for (const p of after.populations(Math.floor(added * 0.9)).slice(0, 15)) console.log(`  ${p.count} x ${p.class} (in ${p.holder}): ${p.retainedEach.toFixed(0)} B each`);
    for (const [what, { sites }] of [['allocated', allocated], ['allocated and outlived a scavenge', promoted]] as const) {
      const total = sites.reduce((s, x) => s + x.bytes, 0);
      console.log(`${what} (sampled over 10 s, top sites), bytes per connection per second, ${(total / b.connections).toFixed(0)} in the top sites:`);
      for (const { site, bytes } of sites.slice(0, 20)) console.log(`  ${(bytes / b.connections).toFixed(1).padStart(7)}  ${site}`);
    }
  } finally {
    for (const child of children) child.kill();
    await rm(dir, { recursive: true, force: true });
  }
}
process.exit(0);
