/**
 * After a restart, no restored connection is declared dead before one of its intervals
 * has passed: sockets died with the old process, so a live peer needs that long to
 * reattach (or, on a platform whose sockets survive, to be heard again).
 *
 * Only a verdict is held back. A connection whose next tick would send a PING keeps its
 * deadline: the statechart's late-tick rule already gives the peer a full interval after
 * that PING. One whose next tick would declare it dead (`unanswered >= count`) has that
 * tick moved to `at + interval` if it was due earlier. Why it matters: a process killed
 * without `persistAll` loses the signs of life since each connection's last step, e.g.
 * the PONG to the last PING a nearly exhausted (or `count` 0 or 1) connection sent.
 */
import type { KeepaliveContext } from '../../actors/keepalive.ts';
import type { StoredConnection } from './store.ts';

interface StoredSnapshot {
  status?: string;
  context?: KeepaliveContext;
}

export function withRestartGrace(records: Iterable<StoredConnection>, at: number): StoredConnection[] {
  const out: StoredConnection[] = [];
  for (const record of records) {
    const snapshot = record.snapshot as unknown as StoredSnapshot;
    const context = snapshot.context;
    const verdictNext = context !== undefined && context.sendPings && context.wakeAt !== null && context.unanswered >= context.count;
    if (snapshot.status !== 'active' || !verdictNext || context.wakeAt! >= at + context.interval) {
      out.push(record);
      continue;
    }
    const held = { ...snapshot, context: { ...context, wakeAt: at + context.interval } };
    out.push({ ...record, snapshot: held as unknown as StoredConnection['snapshot'] });
  }
  return out;
}
