/**
 * What a survivor does to the connections of a process that died. Their records are as of
 * the dead process's last write, and nobody timed their peers since. Each is stepped, by
 * the statechart itself, through the ticks a timely host would have made by now had the
 * peer stayed silent (PINGs into the void: the socket died with the process), stopping
 * before a verdict. A verdict already due is held until `holdUntil` (the dead lease's
 * expiry plus a little under a second) by the statechart's `hold` event: the peer's socket
 * died with the process, and a live peer needs that moment to reattach on a survivor. So a
 * connection is declared dead never before its last recorded sign of life plus
 * `interval × (count + 1)`, and no later than that or `holdUntil`, whichever is later.
 */
import { pingsOnNextTick, type KeepaliveEmitted } from '../../actors/keepalive.ts';
import { SnapshotStepper, type StoredConnection } from '../host/index.ts';

export function takenOver(records: Iterable<StoredConnection>, at: number, holdUntil: number): StoredConnection[] {
  const out: StoredConnection[] = [];
  const void_: KeepaliveEmitted[] = [];
  for (const record of records) {
    const stepper = new SnapshotStepper({ snapshot: record.snapshot }, void_);
    let snapshot = stepper.snapshot;
    while (snapshot.status === 'active' && snapshot.context.wakeAt !== null && snapshot.context.wakeAt <= at && pingsOnNextTick(snapshot)) {
      stepper.step({ type: 'tick', at: snapshot.context.wakeAt }, void_);
      snapshot = stepper.snapshot;
    }
    stepper.step({ type: 'hold', at, until: holdUntil }, void_);
    void_.length = 0;
    out.push({ ...record, snapshot: stepper.persisted() });
  }
  return out;
}
