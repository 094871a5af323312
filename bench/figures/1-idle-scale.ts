/**
 * Figure 1, idle scale: 100,000 idle connections in one Node process, heap per connection
 * after GC. Each kind is measured in its own process, so kinds never share a heap.
 */
import { benchFile } from '../lib/paths.ts';
import type { Figure } from '../lib/result.ts';
import { spawnNode } from '../lib/spawn.ts';
import { measure } from '../lib/stats.ts';
import { IDLE_KINDS, type IdleKind } from '../workers/idle-heap.ts';

const KIB = 1024;
const TARGET_KIB = 2;

const LABEL: Record<IdleKind, string> = {
  host: 'host as the Node adapter runs it (snapshots, in-memory store)',
  'host-no-store': 'host, snapshots stored elsewhere',
  'host-live-actors': 'host with live actors (inspected)',
  record: 'hand-written record in a Map',
};

const figure: Figure = {
  figure: 1,
  name: 'idle scale: heap per connection',
  async run({ quick, runs, log }) {
    const n = quick ? 10_000 : 100_000;
    // One process per kind, all side by side: heap after GC does not depend on CPU contention.
    const samples = Object.fromEntries(
      await Promise.all(
        IDLE_KINDS.map(async (kind) => {
          const child = spawnNode(benchFile('workers/idle-heap.ts'), [kind, String(n), String(runs)], { nodeFlags: ['--max-old-space-size=4096'] });
          const { bytesPerConnection, buildMs } = await child.next<{ type: string; bytesPerConnection: number[]; buildMs: number[] }>('idle');
          await child.exited();
          const kib = bytesPerConnection.map((b) => b / KIB);
          log(`${kind}: ${kib.map((k) => k.toFixed(3)).join(', ')} KiB/connection (built in ${buildMs.map((ms) => ms.toFixed(0)).join(', ')} ms)`);
          return [kind, kib] as const;
        }),
      ),
    ) as Record<IdleKind, number[]>;
    const baseline = { baselineSamples: samples.record, baselineName: LABEL.record };
    const headline = measure({
      name: LABEL.host,
      unit: 'KiB/conn',
      samples: samples.host,
      ...baseline,
      target: `<= ${TARGET_KIB} KiB`,
      meets: (value) => value <= TARGET_KIB,
    });
    return {
      ...headline,
      name: 'idle scale: heap per connection',
      scale: `${n.toLocaleString('en')} connections, ${runs} runs in one process per kind${quick ? ' (quick mode: 10x fewer connections than the full 100,000)' : ''}`,
      parts: [
        headline,
        measure({ name: LABEL['host-no-store'], unit: 'KiB/conn', samples: samples['host-no-store'], ...baseline, target: `<= ${TARGET_KIB} KiB`, meets: (v) => v <= TARGET_KIB }),
        measure({ name: LABEL['host-live-actors'], unit: 'KiB/conn', samples: samples['host-live-actors'], ...baseline, target: `<= ${TARGET_KIB} KiB`, meets: (v) => v <= TARGET_KIB }),
      ],
      notes: [
        'Each connection is opened, advertised and holds one unfolded sign of life; its id is counted, its socket is not.',
        'The adapter default keeps every snapshot in a MemorySnapshotStore as well; "stored elsewhere" is a host whose store writes outside the heap.',
      ],
    };
  },
};
export default figure;
