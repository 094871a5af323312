/**
 * What a survivor makes of a dead process's records (`takenOver`), on a fake clock: the
 * PINGs a timely host would have sent are stepped, a verdict is never earlier than the
 * rule's own nor earlier than `holdUntil`, and nothing else is touched. No Redis here.
 */
import { describe, expect, it } from 'vitest';
import type { KeepaliveContext } from '../../actors/keepalive.ts';
import { reattachWindow, takenOver } from '../../runtime/cluster/takeover.ts';
import { Host, MemorySnapshotStore, type OpenOptions, type StoredConnection } from '../../runtime/host/index.ts';
import { LinkTransport } from '../support/sim.ts';

const INTERVAL = 1000;

/** One connection's record as its process last wrote it, after `run` on a clock at `now`. */
function recordOf(options: OpenOptions, run: (host: Host, clock: { now: number }) => void = () => {}): StoredConnection {
  const clock = { now: 0 };
  const store = new MemorySnapshotStore();
  const host = new Host({ transport: new LinkTransport(), store, now: () => clock.now });
  host.open({ id: 'p', interval: INTERVAL, ...options });
  run(host, clock);
  return JSON.parse(JSON.stringify([...store.load()][0])) as StoredConnection;
}

const advertised = (host: Host) => host.receive('p', 'keepalive:ADVERTISE', 0);
const context = (record: StoredConnection) => (record.snapshot as unknown as { context: KeepaliveContext }).context;
const value = (record: StoredConnection) => (record.snapshot as unknown as { value: unknown }).value;

/** The hold's start for a verdict held until `until`: takenOver adds the reattach window of the connection's interval. */
const from = (until: number) => until - reattachWindow(INTERVAL);

describe('takenOver', () => {
  it('waits for a reattach as long as our client may take to retry at that interval, at least 800 ms', () => {
    expect(reattachWindow(1000)).toBe(800);
    expect(reattachWindow(2000)).toBe(1300);
    expect(reattachWindow(5000)).toBe(2300);
    expect(reattachWindow(30_000)).toBe(2300);
  });

  it('sends the PINGs a timely host would have sent by now, stopping before the verdict', () => {
    // count 3, PINGed at 1000: PINGs were due at 2000 and 3000; the verdict at 4000.
    const record = recordOf({ role: 'server', count: 3 }, (host) => {
      advertised(host);
      host.tick(1000);
    });
    const [taken] = takenOver([record], 3500, from(3900));
    expect(value(taken!)).toEqual({ alive: 'probing' });
    expect(context(taken!)).toMatchObject({ pingsSent: 3, unanswered: 3, intervalStart: 3000, wakeAt: 4000, lastSignOfLife: 0 });
  });

  it('holds a verdict due before holdUntil until then, and leaves a later one where it is', () => {
    const record = recordOf({ role: 'server', count: 1 }, (host) => {
      advertised(host);
      host.tick(1000);
    });
    expect(context(record).wakeAt).toBe(2000);
    expect(context(takenOver([record], 2500, from(2800))[0]!)).toMatchObject({ wakeAt: 2800, unanswered: 1, pingsSent: 1 });
    expect(context(takenOver([record], 1500, from(1900))[0]!).wakeAt).toBe(2000);
    expect(context(takenOver([record], 1500, from(2000))[0]!).wakeAt).toBe(2000);
  });

  it('holds the verdict of a connection with count 0 (its first due tick is one)', () => {
    const record = recordOf({ role: 'server', count: 0 }, advertised);
    expect(value(record)).toEqual({ alive: 'watching' });
    expect(context(takenOver([record], 1500, from(2300))[0]!).wakeAt).toBe(2300);
  });

  it('leaves a connection that never judges its peer, and one awaiting ADVERTISE, as it was', () => {
    const passive = recordOf({ role: 'server', count: 2, sendPings: false }, advertised);
    const awaiting = recordOf({ role: 'server', count: 2, advertiseTimeout: 3000 });
    const awaitingPassive = recordOf({ role: 'server', count: 2, sendPings: false, advertiseTimeout: 3000 });
    expect(context(awaiting).wakeAt).toBe(3000);
    for (const record of [passive, awaiting, awaitingPassive]) {
      const [taken] = takenOver([record], 2500, from(3500));
      expect(value(taken!)).toEqual(value(record));
      expect(context(taken!)).toEqual(context(record));
    }
  });
});
