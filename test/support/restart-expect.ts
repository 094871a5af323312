/**
 * What docs/delivery.md promises across a restart from a store, as assertions on a
 * `RestartRun` (test/support/restart-stream.ts):
 *
 * - server to client, once and in order: everything the first process had in its store
 *   (`a0` up to the stored `next`; a send not yet durable at the kill never reached the
 *   wire), then everything the second one sent.
 * - client to server, at least once, in order, each with its own sequence number: the first
 *   process handled `c0` ... in order; the second one goes on from what the store says it
 *   received (or further, by the client's floor), never from beyond what the first handled.
 *   The overlap is the repeats the doc allows: handled, `received` not yet written.
 */
import { expect } from 'vitest';
import type { Heard, RestartRun } from './restart-stream.ts';

const stream = (prefix: string, from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, i) => `${prefix}${from + i}`);
const numbered = (from: number, count: number): Heard[] => Array.from({ length: count }, (_, i) => ({ data: `c${from + i}`, seq: from + i + 1 }));

export function expectDeliveredAcrossRestart(run: RestartRun): { durable: number; repeats: number } {
  expect(run.restored).toBe(1);
  // Down: a0 .. a<durable - 1> (the store's window, replayed), then b0 .. b<sentAfter - 1>.
  const durable = run.stored.next - 1;
  expect(durable).toBeGreaterThanOrEqual(run.downBeforeKill);
  expect(run.down).toEqual([...stream('a', 0, durable), ...stream('b', 0, run.sentAfter)]);
  // Up: the first process c0 .. c<handled - 1>, seq n + 1 for cn.
  const handled = run.heardBefore.length;
  expect(run.heardBefore).toEqual(numbered(0, handled));
  // The second: from `resumedAt` to the client's last, in order, once, same seqs.
  const resumedAt = run.heardAfter[0] ? run.heardAfter[0].seq - 1 : run.up;
  expect(run.heardAfter).toEqual(numbered(resumedAt, run.up - resumedAt));
  expect(run.up).toBeGreaterThan(handled);
  // Nothing lost between them; repeated at most what the store had not written as received.
  expect(resumedAt).toBeLessThanOrEqual(handled);
  expect(resumedAt).toBeGreaterThanOrEqual(run.stored.received);
  return { durable, repeats: handled - resumedAt };
}
