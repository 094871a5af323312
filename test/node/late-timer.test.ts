/**
 * A timer made late by a stall in a socket handler. Node runs overdue timers before it
 * reads the sockets, so a PONG that arrived during the stall, before the deadline, would
 * be judged missing and a live peer declared dead. The wake timer ticks the host only
 * after the waiting I/O has been read (`TimerApi.afterIo`); without that, the same
 * scenario kills the peer (shown below, so the test has teeth).
 *
 * Real processes and real time: the stall is a busy loop that ends only once the peer (in
 * another process) has written its PONG and 50 ms have passed, and at least 100 ms after
 * the deadline, so the order of events does not depend on machine load.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import type { HostEvent, TimerApi } from '../../runtime/index.ts';
import { NODE, poll, ROOT } from './helpers.ts';

const LATE_PEER = fileURLToPath(new URL('./late-peer.ts', import.meta.url));
const INTERVAL = 300;
const dirs: string[] = [];
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Runs the scenario; returns what happened to A. */
async function stallDuringTheLastInterval(timers?: TimerApi) {
  const dir = mkdtempSync(join(tmpdir(), 'late-timer-'));
  dirs.push(dir);
  const marker = join(dir, 'pong');
  const pingedAt = new Map<string, number>();
  const events: HostEvent[] = [];
  let stall: { a: string; from: number; until: number } | undefined;
  let server: RunningServer | undefined;
  const onEvent = (event: HostEvent) => {
    events.push(event);
    if (event.type === 'sent' && event.message === 'PING' && !pingedAt.has(event.id)) pingedAt.set(event.id, Date.now());
    if (event.type === 'received' && event.message === 'MESSAGE' && !stall) {
      const a = [...pingedAt.keys()].find((id) => id !== event.id)!;
      const deadline = pingedAt.get(a)! + INTERVAL;
      const from = Date.now();
      // Hog the loop until A's PONG is surely in our socket buffer and the deadline is well past.
      for (let spin = 0; Date.now() - from < 5_000; spin++) {
        if (spin % 1000 === 0 && existsSync(marker) && Date.now() >= deadline + 100) {
          const seen = Date.now();
          while (Date.now() - seen < 50);
          break;
        }
      }
      stall = { a, from, until: Date.now() };
    }
  };
  server = await startServer({ port: 0, tcpPort: 0, interval: INTERVAL, count: 1, onEvent, ...(timers ? { timers } : {}) });
  const running = server;
  cleanups.push(() => running.close());
  const peer = spawn(NODE, [LATE_PEER, running.wsUrl, marker], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => void peer.kill('SIGKILL'));

  await poll(() => stall, 15_000);
  const a = stall!.a;
  // Long enough after the stall for either verdict: the next deadline, plus slack.
  await poll(() => events.some((e) => e.id === a && e.type === 'dead') || (running.host.view(a)?.pongsReceived ?? 0) >= 1, 10_000);
  await new Promise((resolve) => setTimeout(resolve, INTERVAL));
  return { stall: stall!, deadline: pingedAt.get(a)! + INTERVAL, dead: events.find((e) => e.id === a && e.type === 'dead'), view: running.host.view(a) };
}

describe('a wake timer made late by a stalled event loop', () => {
  it('reads the PONG that arrived during the stall before it judges the deadline', async () => {
    const { stall, deadline, dead, view } = await stallDuringTheLastInterval();
    expect(stall.until).toBeGreaterThanOrEqual(deadline + 100);
    expect(dead).toBeUndefined();
    expect(view!.pongsReceived).toBeGreaterThanOrEqual(1);
    expect(view!.state).toMatch(/^alive/);
  });

  it('without yielding to I/O first, the same stall kills the live peer', async () => {
    const syncTimers: TimerApi = {
      setTimeout: (callback, ms) => setTimeout(callback, ms),
      clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
    };
    const { dead } = await stallDuringTheLastInterval(syncTimers);
    expect(dead).toMatchObject({ type: 'dead', unanswered: 1 });
  });
});
