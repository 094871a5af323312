/**
 * What a survivor does to the connections of a process that died. Their records are as of
 * the dead process's last write, and nobody timed their peers since. Each is stepped, by
 * the statechart itself, through the ticks a timely host would have made by now had the
 * peer stayed silent (PINGs into the void: the socket died with the process), stopping
 * before a verdict. A verdict already due is held by the statechart's `hold` event until
 * `holdFrom` (the dead lease's expiry, or the takeover if later) plus the time a live peer
 * needs to reattach on a survivor (`reattachWindow`): the peer's socket died with the
 * process, and our client retries at most every min(interval / 2, 2 s). So a connection is
 * declared dead never before its last recorded sign of life plus `interval × (count + 1)`,
 * and no later than that or its hold, whichever is later.
 */
import { pingsOnNextTick, type KeepaliveEmitted } from '../../actors/keepalive.ts';
import { SnapshotStepper, type StoredConnection } from '../host/index.ts';
import { defaultReconnectMaxDelay } from '../protocol/index.ts';

/**
 * How long past `holdFrom` a taken-over connection's due verdict waits: our client's longest
 * reconnect delay at this interval (defaultReconnectMaxDelay) and 300 ms to
 * reattach, at least 800 ms. Under a failover of Redis the takeover itself comes seconds late,
 * and a peer whose client had backed off to its longest delay was declared dead while retrying.
 */
export function reattachWindow(interval: number): number {
  return Math.max(800, defaultReconnectMaxDelay(interval) + 300);
}

export function takenOver(records: Iterable<StoredConnection>, at: number, holdFrom: number): StoredConnection[] {
  const out: StoredConnection[] = [];
  const void_: KeepaliveEmitted[] = [];
  for (const record of records) {
    const stepper = new SnapshotStepper({ snapshot: record.snapshot }, void_);
    let snapshot = stepper.snapshot;
    while (snapshot.status === 'active' && snapshot.context.wakeAt !== null && snapshot.context.wakeAt <= at && pingsOnNextTick(snapshot)) {
      stepper.step({ type: 'tick', at: snapshot.context.wakeAt }, void_);
      snapshot = stepper.snapshot;
    }
    stepper.step({ type: 'hold', at, until: holdFrom + reattachWindow(snapshot.context.interval) }, void_);
    void_.length = 0;
    out.push({ ...record, snapshot: stepper.persisted() });
  }
  return out;
}
