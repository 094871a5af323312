/**
 * `resume` + hand-over: how a platform that kept signs of life while the host was gone
 * (a Durable Object's sockets) gives them back before anything is stepped.
 */
import { describe, expect, it } from 'vitest';
import { Host } from '../../runtime/host/host.ts';
import { MemorySnapshotStore } from '../../runtime/host/store.ts';
import { LinkTransport } from '../support/sim.ts';

function world() {
  const clock = { now: 0 };
  const store = new MemorySnapshotStore();
  const make = () => {
    const transport = new LinkTransport();
    const wakes: (number | null)[] = [];
    const host = new Host({ transport, store, now: () => clock.now, onNextWake: (at) => wakes.push(at) });
    return { host, transport, wakes };
  };
  return { clock, store, make };
}

describe('resume and hand-over', () => {
  it('resumes without stepping, so a sign of life handed over before the tick prevents a PING', () => {
    const { clock, store, make } = world();
    const first = make();
    first.host.open({ id: 'p', role: 'server', interval: 1000, count: 1 });
    first.host.receive('p', 'keepalive:ADVERTISE');
    // The peer's later frames reached the platform but never the stored snapshot.
    clock.now = 1500;
    const second = make();
    expect(second.host.resume(store.load())).toEqual(['p']);
    expect(second.wakes).toEqual([]);
    expect(second.host.noteSignOfLife('p', 900)).toBe(true);
    expect(second.host.noteAnsweredPing('p', 1200)).toBe(true);
    second.host.tick(1500);
    expect(second.transport.sent).toEqual([]);
    expect(second.wakes).toEqual([2200]);
    expect(second.host.view('p')).toMatchObject({ lastSignOfLife: 1200, pingsReceived: 1, messagesReceived: 1, unanswered: 0 });
  });

  it('ignores a handed-over sign of life that is not newer than what the actor or its pending frames know', () => {
    const { clock, make } = world();
    const { host } = make();
    host.open({ id: 'p', role: 'server', interval: 1000, count: 1 });
    clock.now = 300;
    host.receive('p', 'keepalive:ADVERTISE');
    expect(host.noteSignOfLife('p', 300)).toBe(false);
    expect(host.noteSignOfLife('p', 200)).toBe(false);
    expect(host.noteSignOfLife('p', 400)).toBe(true);
    expect(host.noteSignOfLife('p', 400)).toBe(false);
    expect(host.noteAnsweredPing('p', 350)).toBe(false);
    expect(host.noteSignOfLife('missing', 500)).toBe(false);
    expect(host.view('p')).toMatchObject({ lastSignOfLife: 400, messagesReceived: 1, pingsReceived: 0 });
  });
});

describe('signs of life handed over late', () => {
  it.each(['noteSignOfLife', 'noteAnsweredPing'] as const)(
    '%s older than our last PING moves the deadline earlier in the timer queue at once',
    (method) => {
      const { clock, make } = world();
      const { host, wakes } = make();
      host.open({ id: 'p', role: 'server', interval: 1000, count: 2 });
      host.receive('p', 'keepalive:ADVERTISE');
      clock.now = 1000;
      host.tick(1000); // PING out: the next interval starts at 1000
      expect(host.nextWake()).toBe(2000);
      // The platform saw the peer at 900, before our PING: its interval runs from there.
      expect(host[method]('p', 900)).toBe(true);
      expect(host.nextWake()).toBe(1900);
      expect(wakes.at(-1)).toBe(1900);
      expect(host.view('p')).toMatchObject({ unanswered: 0, lastSignOfLife: 900, wakeAt: 1900 });
      // Handing the same one over again changes nothing.
      expect(host[method]('p', 900)).toBe(false);
    },
  );
});
