/**
 * Bytes allocated per statechart step on the host's hot path (a folded PONG with the tick
 * that PINGs), sampled by V8's allocation profiler, by allocation site:
 *
 *   node bench/tools/step-garbage.ts [STEPS]
 */
import type { KeepaliveEmitted } from '../../actors/keepalive.ts';
import { SnapshotStepper } from '../../runtime/host/stepper.ts';
import { allocationSites } from '../lib/allocation-sites.ts';

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
let ms = 0;
const sites = await allocationSites(
  () => {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) one();
    ms = performance.now() - t0;
  },
  { samplingInterval: 256 },
);
const total = sites.reduce((sum, { bytes }) => sum + bytes, 0);
console.log(`${(total / steps).toFixed(0)} bytes allocated per step, ${((ms * 1000) / steps).toFixed(2)} us per step (under the sampler), state ${JSON.stringify(stepper.snapshot.value)}`);
for (const { site, bytes } of sites.slice(0, 15)) console.log(`  ${(bytes / steps).toFixed(0).padStart(6)}  ${site}`);
