/**
 * Figure 2 worker: N connections in one host with deadlines spread evenly over one
 * interval, then the work of `host.tick` when a given number are due, beside one sweep of
 * the `ws` heartbeat recipe over the same N. Work is CPU time of this process.
 *
 *   node --expose-gc bench/workers/timer-cost.ts N RUNS
 */
import { Host } from '../../runtime/host/host.ts';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import { HeartbeatSweep } from '../baselines/ws-sweep.ts';
import { cpuMs } from '../lib/clock.ts';
import { runChild } from '../lib/spawn.ts';

const INTERVAL = 1000;

if (import.meta.main) runChild(async () => {
  const n = Number(process.argv[2]);
  const runs = Number(process.argv[3] ?? 5);
  let sent = 0;
  const transport = { send: () => void sent++, close: () => {} };
  const host = new Host({ transport, now: () => 0, maxPingsPerInterval: 0, defaults: { interval: INTERVAL, count: 5 } });

  // Connection i is due at i * step + INTERVAL: a due window is any run of consecutive ids.
  const step = INTERVAL / n;
  const ids: string[] = [];
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    ids.push(host.open({ role: 'server', at: i * step, awaitAdvertise: false, advertise: false }));
  }
  const buildMs = performance.now() - started;
  let next = 0;
  const tickWindow = (due: number): number => {
    const end = next + due;
    const at = (end - 1) * step + INTERVAL; // exactly the last due connection's wakeAt
    const before = sent;
    const t0 = cpuMs();
    host.tick(at);
    const ms = cpuMs() - t0;
    if (sent - before !== due) throw new Error(`tick at ${at} sent ${sent - before} PINGs, expected ${due}`);
    next = end;
    return ms;
  };

  const sweep = new HeartbeatSweep(transport.send, TEXT_FRAMES.PING);
  for (const id of ids) sweep.add(id);
  const sweepOnce = (): number => {
    sweep.answerAll();
    const t0 = cpuMs();
    sweep.sweep();
    return cpuMs() - t0;
  };

  const onePercent = n / 100;
  const fixedDue = 100;
  // Warm up the JIT on both paths before measuring (a 10k host has only 100 windows of 1%).
  for (let i = 0; i < 8; i++) tickWindow(onePercent), tickWindow(fixedDue), sweepOnce();
  const hostOnePercent: number[] = [];
  const hostFixed: number[] = [];
  const sweeps: number[] = [];
  for (let r = 0; r < runs; r++) {
    hostOnePercent.push(tickWindow(onePercent));
    hostFixed.push(tickWindow(fixedDue));
    sweeps.push(sweepOnce());
  }
  if (sweep.terminated !== 0) throw new Error('the simulated sweep terminated a peer that answered');
  return { type: 'timer', n, onePercent, fixedDue, buildMs, hostOnePercent, hostFixed, sweeps, heapMiB: process.memoryUsage().heapUsed / 2 ** 20 };
});
