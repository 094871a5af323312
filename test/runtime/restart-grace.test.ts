/**
 * A process killed without `persistAll` loses the signs of life since each connection's
 * last step. These runs on a fake clock show where that could cause a false death after
 * a restart (the PONG to the last PING of a connection with count 1) and that the grace
 * removes it without forgetting a peer that never comes back.
 */
import { describe, expect, it } from 'vitest';
import { Host } from '../../runtime/host/host.ts';
import { withRestartGrace } from '../../runtime/host/restart-grace.ts';
import { MemorySnapshotStore, type StoredConnection } from '../../runtime/host/store.ts';
import { LinkTransport } from '../support/sim.ts';

const INTERVAL = 1000;

/** A server connection (count 1) that PINGed at 1000; the PONG at 1005 was never stepped. */
function killedAfterPong(): StoredConnection[] {
  let now = 0;
  const store = new MemorySnapshotStore();
  const host = new Host({ transport: new LinkTransport(), store, now: () => now });
  host.open({ id: 'p', role: 'server', interval: INTERVAL, count: 1 });
  host.receive('p', 'keepalive:ADVERTISE');
  host.tick((now = 1000));
  host.receive('p', 'keepalive:PONG', (now = 1005));
  // SIGKILL at 1500: what is stored is the step at 1000.
  return JSON.parse(JSON.stringify(store.load())) as StoredConnection[];
}

function restarted(records: StoredConnection[], at: number) {
  let now = at;
  const transport = new LinkTransport();
  const host = new Host({ transport, now: () => now });
  host.restore(records, at);
  return {
    host,
    transport,
    runTo(until: number, every = 50) {
      for (; now <= until; now += every) host.tick(now);
    },
  };
}

describe('restart grace', () => {
  it('without it, a live peer whose last PONG was lost is declared dead the moment the host restarts', () => {
    const side = restarted(killedAfterPong(), 2100);
    expect(side.transport.closed).toEqual([{ id: 'p', reason: 'peer dead: silent for 2100 ms, 1 keepalive PING(s) unanswered' }]);
  });

  it('with it, that peer has one interval to come back, and is alive once it does', () => {
    const side = restarted(withRestartGrace(killedAfterPong(), 2100), 2100);
    expect(side.host.view('p')).toMatchObject({ state: 'alive.probing', unanswered: 1, pingsSent: 1, wakeAt: 3100 });
    side.runTo(2300);
    side.host.noteSignOfLife('p', 2300);
    side.runTo(6000);
    // It answers nothing after coming back: only the rule's own silence kills it, 2 intervals after 2300.
    expect(side.transport.closed).toEqual([{ id: 'p', reason: 'peer dead: silent for 2000 ms, 1 keepalive PING(s) unanswered' }]);
    expect(side.transport.sent.map((s) => s.frame)).toEqual(['keepalive:PING']);
  });

  it('is what Host.restoreFromStore applies: a host restarted from its store holds the verdict back', async () => {
    const store = new MemorySnapshotStore();
    for (const record of killedAfterPong()) store.save(record);
    const transport = new LinkTransport();
    const host = new Host({ transport, store, now: () => 2100 });
    expect(await host.restoreFromStore()).toEqual(['p']);
    expect(transport.closed).toEqual([]);
    expect(host.view('p')).toMatchObject({ state: 'alive.probing', unanswered: 1, wakeAt: 3100 });
  });

  it('a peer that never comes back is still declared dead, one interval after the restart', () => {
    const side = restarted(withRestartGrace(killedAfterPong(), 2100), 2100);
    side.runTo(3050);
    expect(side.transport.closed).toEqual([]);
    side.runTo(3100);
    expect(side.transport.closed).toEqual([{ id: 'p', reason: 'peer dead: silent for 3100 ms, 1 keepalive PING(s) unanswered' }]);
  });

  it('moves only a verdict due within one interval of the restart; every other record is left as stored', () => {
    const [exhausted] = killedAfterPong();
    const context = (r: StoredConnection) => (r.snapshot as unknown as { context: { wakeAt: number | null } }).context;
    // Restarted before the verdict was due, but less than an interval before it.
    expect(context(withRestartGrace([exhausted!], 1800)[0]!).wakeAt).toBe(2800);
    // Due an interval or more after the restart: untouched.
    expect(withRestartGrace([exhausted!], 1000)[0]).toBe(exhausted);

    let now = 0;
    const store = new MemorySnapshotStore();
    const host = new Host({ transport: new LinkTransport(), store, now: () => now });
    host.open({ id: 'probing', role: 'server', interval: INTERVAL, count: 3 });
    host.receive('probing', 'keepalive:ADVERTISE');
    host.open({ id: 'passive', role: 'server', interval: INTERVAL, count: 0, sendPings: false });
    host.receive('passive', 'keepalive:ADVERTISE');
    host.open({ id: 'waiting', role: 'server', interval: INTERVAL, count: 0 });
    // Its next tick closes it, but for want of ADVERTISE: a deadline of the protocol, not a verdict on a silent peer.
    host.open({ id: 'deadline', role: 'server', interval: INTERVAL, count: 0, advertiseTimeout: 4500 });
    host.tick((now = 1000));
    const stored = [...store.load()];
    expect(stored.map(context).map((c) => c.wakeAt)).toEqual([2000, null, null, 4500]);
    // A PING is next (unanswered < count), no PINGs at all, no ADVERTISE yet (nothing timed), or only its ADVERTISE deadline.
    expect(withRestartGrace(stored, 5000)).toEqual(stored);
    for (const [i, record] of withRestartGrace(stored, 5000).entries()) expect(record).toBe(stored[i]);
  });
});
