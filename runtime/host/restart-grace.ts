/**
 * After a restart, no restored connection is declared dead before one of its intervals
 * has passed: sockets died with the old process, so a live peer needs that long to
 * reattach (or, on a platform whose sockets survive, to be heard again).
 *
 * Only a verdict is held back, by the statechart's own `hold` event (actors/keepalive.ts):
 * a connection whose next tick would send a PING keeps its deadline (the late-tick rule
 * already gives the peer a full interval after that PING); one whose next tick would
 * declare it dead (`unanswered >= count`) has that tick moved to `at + interval` if it was
 * due earlier. Why it matters: a process killed without `persistAll` loses the signs of
 * life since each connection's last step, e.g. the PONG to the last PING a nearly
 * exhausted (or `count` 0 or 1) connection sent.
 */
import type { KeepaliveEmitted } from '../../actors/keepalive.ts';
import { SnapshotStepper } from './stepper.ts';
import type { StoredConnection } from './store.ts';

/** Each record with its verdict held one of its intervals past `at`; a record the hold leaves as it was is returned as is. */
export function withRestartGrace(records: Iterable<StoredConnection>, at: number): StoredConnection[] {
  const out: StoredConnection[] = [];
  const none: KeepaliveEmitted[] = [];
  for (const record of records) {
    const stepper = new SnapshotStepper({ snapshot: record.snapshot }, none);
    const { wakeAt, interval } = stepper.snapshot.context;
    stepper.step({ type: 'hold', at, until: at + interval }, none);
    out.push(stepper.snapshot.context.wakeAt === wakeAt ? record : { ...record, snapshot: stepper.persisted() });
  }
  return out;
}
