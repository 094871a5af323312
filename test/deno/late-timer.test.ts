/**
 * The late-timer scenario (test/node/late-timer.test.ts) on the real `deno` binary: the
 * Deno server stalls its event loop past a peer's deadline while the peer's PONG waits in
 * the socket, and WakeTimer's `afterIo` must run the tick after that read. On Deno 2.9
 * `setImmediate` does not (it ran first and the live peer was declared dead, 3 runs of 3,
 * even with two nested); a 0 ms timeout does (8 of 8), so that is Deno's `afterIo`.
 * Real processes, real time; the stall ends only once the PONG is surely sent and the
 * deadline is 100 ms past, so the order does not depend on load.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { LateTimerOutcome } from '../support/late-timer-scenario.ts';
import { killAll, NODE, ROOT, spawnProcess } from '../node/helpers.ts';
import { DENO } from './helpers.ts';

const LATE_SERVER = fileURLToPath(new URL('./late-server.ts', import.meta.url));
const LATE_PEER = fileURLToPath(new URL('../node/late-peer.ts', import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  killAll();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function stallOnDeno(mode: 'platform' | 'sync'): Promise<LateTimerOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'late-timer-deno-'));
  dirs.push(dir);
  const marker = join(dir, 'pong');
  const server = spawnProcess(DENO, ['run', '--allow-net', '--allow-read', LATE_SERVER, marker, mode], { NO_COLOR: '1' });
  const url = (await server.line(/^listening ws:\/\//, 30_000)).split(' ')[1]!;
  const peer = spawn(NODE, [LATE_PEER, url, marker], { cwd: ROOT, stdio: 'ignore' });
  try {
    const line = await server.line(/^outcome /, 30_000);
    const outcome = JSON.parse(line.slice('outcome '.length)) as LateTimerOutcome | null;
    expect(outcome, 'the scenario ran to a verdict').not.toBeNull();
    return outcome!;
  } finally {
    peer.kill('SIGKILL');
  }
}

describe('a wake timer made late by a stalled event loop, on Deno', () => {
  it('reads the PONG that arrived during the stall before it judges the deadline', async () => {
    const { stall, deadline, dead, view } = await stallOnDeno('platform');
    expect(stall.until).toBeGreaterThanOrEqual(deadline + 100);
    expect(dead).toBeUndefined();
    expect(view!.pongsReceived).toBeGreaterThanOrEqual(1);
    expect(view!.state).toMatch(/^alive/);
  });

  it('without yielding to I/O first, the same stall kills the live peer', async () => {
    const { stall, deadline, dead } = await stallOnDeno('sync');
    expect(stall.until).toBeGreaterThanOrEqual(deadline + 100);
    expect(dead).toMatchObject({ type: 'dead', unanswered: 1 });
  });
});
