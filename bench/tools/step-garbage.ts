/**
 * Bytes allocated per statechart step on the host's hot path (a folded PONG with the tick
 * that PINGs), sampled by V8's allocation profiler, by allocation site:
 *
 *   node bench/tools/step-garbage.ts [STEPS]
 */
import { Session } from 'node:inspector/promises';
import type { KeepaliveEmitted } from '../../actors/keepalive.ts';
import { SnapshotStepper } from '../../runtime/stepper.ts';

const steps = Number(process.argv[2] ?? 200_000);
const INTERVAL = 1000;
const out: KeepaliveEmitted[] = [];
const stepper = new SnapshotStepper({ input: { role: 'server', interval: INTERVAL, count: 5, sendPings: true, at: 0 } }, out);
stepper.step({ type: 'peer.advertise', at: 1 }, out);
let at = 1;
const one = () => {
  // The peer's PONG at `at`, folded with the tick an interval later that PINGs.
  stepper.step({ type: 'peer.message', at, folded: { pings: 0, pongs: 1, messages: 0 }, tick: at + INTERVAL }, out);
  at += INTERVAL;
  out.length = 0;
};
for (let i = 0; i < 20_000; i++) one();
const session = new Session();
session.connect();
await session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
const t0 = performance.now();
for (let i = 0; i < steps; i++) one();
const ms = performance.now() - t0;
const { profile } = await session.post('HeapProfiler.getSamplingProfile');
await session.post('HeapProfiler.stopSampling');
const bySite = new Map<string, number>();
const walk = (node: (typeof profile)['head'], caller: string) => {
  const f = node.callFrame;
  const here = `${f.functionName || '(anonymous)'}${f.url ? ` ${f.url.replace(/^.*\//, '')}:${f.lineNumber + 1}` : ''}`;
  if (node.selfSize > 0) bySite.set(`${here} < ${caller}`, (bySite.get(`${here} < ${caller}`) ?? 0) + node.selfSize);
  for (const child of node.children) walk(child, here);
};
walk(profile.head, '');
const total = [...bySite.values()].reduce((s, b) => s + b, 0);
console.log(`${(total / steps).toFixed(0)} bytes allocated per step, ${((ms * 1000) / steps).toFixed(2)} us per step (under the sampler), state ${JSON.stringify(stepper.snapshot.value)}`);
for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${(bytes / steps).toFixed(0).padStart(6)}  ${site}`);
