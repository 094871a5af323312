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
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer } from '../../adapters/node/server.ts';
import type { TimerApi } from '../../runtime/host/wake-timer.ts';
import { lateTimerScenario, type LateTimerOutcome } from '../support/late-timer-scenario.ts';
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
async function stallDuringTheLastInterval(timers?: TimerApi): Promise<LateTimerOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'late-timer-'));
  dirs.push(dir);
  const marker = join(dir, 'pong');
  const scenario = lateTimerScenario(INTERVAL, marker);
  const server = await startServer({ port: 0, tcpPort: 0, interval: INTERVAL, count: 1, onEvent: scenario.onEvent, ...(timers ? { timers } : {}) });
  cleanups.push(() => server.close());
  const peer = spawn(NODE, [LATE_PEER, server.wsUrl, marker], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => void peer.kill('SIGKILL'));

  await poll(() => scenario.stall, 15_000);
  // Long enough after the stall for either verdict: the next deadline, plus slack.
  await poll(() => scenario.outcome((id) => server.host.view(id)), 10_000);
  await new Promise((resolve) => setTimeout(resolve, INTERVAL));
  return scenario.outcome((id) => server.host.view(id))!;
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
