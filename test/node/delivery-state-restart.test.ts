/**
 * Delivery mode across a SIGKILL of the Node server under `--state`: the client resumes on a
 * new process started on the same SQLite file; server to client once and in order (every
 * send is written before it returns), client to server at least once, in order, repeats only
 * of what the file had not written as received (docs/delivery.md, "What is sent again").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { expectDeliveredAcrossRestart } from '../support/restart-expect.ts';
import { streamAcrossRestart } from '../support/restart-stream.ts';
import { killAll, spawnStreamServer } from './helpers.ts';

let dir: string;
beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'keepalive-state-delivery-'))));
afterEach(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

it('a client resumes on the restarted process: nothing lost or repeated down, nothing lost up', async () => {
  const state = join(dir, 'state.db');
  const run = await streamAcrossRestart({
    start: (prefix, port) => spawnStreamServer({ STATE: state, PREFIX: prefix, PORT: String(port), HEARD: '1', INTERVAL: '1000', COUNT: '3' }),
    rate: 200,
    messages: 400,
    held: 100,
  });
  const { durable, repeats } = expectDeliveredAcrossRestart(run);
  // The first process's window held what the client had not seen: replayed from the store.
  expect(durable - run.downBeforeKill).toBeGreaterThanOrEqual(100);
  // Written before `send` returned: everything it accepted up to the kill is in the file.
  expect(durable).toBeGreaterThanOrEqual(run.sentBeforeKill);
  console.log(`node --state restart: ${durable} down before (${run.downBeforeKill} arrived before the kill, ${run.sentBeforeKill} accepted), ${run.sentAfter} after; ${run.up} up, ${repeats} repeated; ${run.opens} opens`);
}, 60_000);
