import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { ANSWERS_PING, keepaliveMachine, type KeepaliveInput, type Role } from '../../actors/keepalive.ts';
import { Stepper } from '../support/machine.ts';

const base = { interval: 1000, count: 3, sendPings: true, at: 0 } as const;
const input = (role: Role, extra: Partial<KeepaliveInput> = {}): KeepaliveInput => ({ ...base, role, ...extra });
/** An advertised server, so both roles can run the same rules. */
function started(role: Role, extra: Partial<KeepaliveInput> = {}): Stepper {
  const m = new Stepper(input(role, extra));
  if (role === 'server') m.send({ type: 'peer.advertise', at: 0 });
  return m;
}

describe('opening', () => {
  it('a client advertises at once and starts timing from its start time', () => {
    const m = new Stepper(input('client', { at: 500 }));
    expect(m.sends()).toEqual(['ADVERTISE']);
    expect(m.state).toBe('{"alive":"watching"}');
    expect(m.snapshot.context.wakeAt).toBe(1500);
  });

  it('a client with its own PINGs disabled still advertises, and never asks to be woken', () => {
    const m = new Stepper(input('client', { sendPings: false }));
    expect(m.sends()).toEqual(['ADVERTISE']);
    expect(m.state).toBe('{"alive":"passive"}');
    expect(m.snapshot.context.wakeAt).toBeNull();
  });

  it('a server sends nothing and waits for ADVERTISE with no deadline', () => {
    const m = new Stepper(input('server'));
    expect(m.emitted).toEqual([]);
    expect(m.state).toBe('"awaitingAdvertise"');
    expect(m.snapshot.context.wakeAt).toBeNull();
    expect(m.snapshot.hasTag(ANSWERS_PING)).toBe(false);
  });

  it('a libvirt-dialect client neither advertises nor speaks before the negotiated ADVERTISE', () => {
    const m = new Stepper(input('client', { advertise: false, awaitAdvertise: true }));
    expect(m.emitted).toEqual([]);
    expect(m.state).toBe('"awaitingAdvertise"');
    m.send({ type: 'peer.advertise', at: 10 });
    expect(m.state).toBe('{"alive":"watching"}');
    expect(m.snapshot.context.wakeAt).toBe(1010);
  });
});

describe('server before ADVERTISE', () => {
  it('a PING is a sign of life but gets no PONG, and does not start keepalive', () => {
    const m = new Stepper(input('server'));
    m.send({ type: 'peer.ping', at: 200 });
    m.send({ type: 'peer.message', at: 300 });
    m.send({ type: 'tick', at: 99_999 });
    expect(m.emitted).toEqual([]);
    expect(m.state).toBe('"awaitingAdvertise"');
    expect(m.snapshot.context).toMatchObject({ lastSignOfLife: 300, pingsReceived: 1, messagesReceived: 1, pongsSent: 0, wakeAt: null });
  });

  it('after ADVERTISE the server times from the ADVERTISE and answers PINGs', () => {
    const m = new Stepper(input('server'));
    m.send({ type: 'peer.advertise', at: 400 });
    expect(m.snapshot.context).toMatchObject({ advertised: true, lastSignOfLife: 400, wakeAt: 1400 });
    expect(m.send({ type: 'peer.ping', at: 900 })).toEqual([{ type: 'send', message: 'PONG' }]);
    expect(m.snapshot.context.wakeAt).toBe(1900);
  });
});

describe('the ADVERTISE deadline (advertiseTimeout)', () => {
  const withDeadline = (extra: Partial<KeepaliveInput> = {}) => new Stepper(input('server', { at: 100, advertiseTimeout: 5000, ...extra }));

  it('a server publishes the deadline from its start and closes at it, sending nothing keepalive', () => {
    const m = withDeadline();
    expect(m.state).toBe('"awaitingAdvertise"');
    expect(m.snapshot.context.wakeAt).toBe(5100);
    expect(m.send({ type: 'tick', at: 5099 })).toEqual([]);
    expect(m.send({ type: 'tick', at: 5100 })).toEqual([{ type: 'closed', at: 5100, cause: { cause: 'no-advertise', timeout: 5000 } }]);
    expect(m.snapshot.value).toBe('closed');
    expect(m.snapshot.context.wakeAt).toBeNull();
    expect(m.sends()).toEqual([]);
  });

  it('signs of life before ADVERTISE do not extend it: a peer that only PINGs must still advertise', () => {
    const m = withDeadline();
    for (let at = 1000; at < 5100; at += 1000) m.send({ type: 'peer.ping', at });
    m.send({ type: 'peer.message', at: 5050, folded: { pings: 2, messages: 1 } });
    expect(m.snapshot.context).toMatchObject({ wakeAt: 5100, lastSignOfLife: 5050, pingsReceived: 7, pongsSent: 0 });
    m.send({ type: 'tick', at: 5100 });
    expect(m.emitted).toEqual([{ type: 'closed', at: 5100, cause: { cause: 'no-advertise', timeout: 5000 } }]);
  });

  it('an ADVERTISE before the deadline (or before a late tick runs) starts keepalive and drops the deadline', () => {
    const m = withDeadline();
    m.send({ type: 'peer.advertise', at: 5100 });
    expect(m.state).toBe('{"alive":"watching"}');
    expect(m.snapshot.context.wakeAt).toBe(6100);
    m.send({ type: 'tick', at: 6100 });
    expect(m.sends()).toEqual(['PING']);
  });

  it('applies with the server\'s own PINGs off too (it is not a death verdict), after which it never wakes', () => {
    const m = withDeadline({ sendPings: false });
    expect(m.snapshot.context.wakeAt).toBe(5100);
    m.send({ type: 'peer.advertise', at: 200 });
    expect(m.state).toBe('{"alive":"passive"}');
    expect(m.snapshot.context.wakeAt).toBeNull();
    const late = withDeadline({ sendPings: false });
    late.send({ type: 'tick', at: 9000 });
    expect(late.emitted).toEqual([{ type: 'closed', at: 9000, cause: { cause: 'no-advertise', timeout: 5000 } }]);
  });

  it('a backward clock step starts the whole wait again from the new time; a jump forward closes on the next tick', () => {
    const m = withDeadline();
    expect(m.send({ type: 'tick', at: 40 })).toEqual([]);
    expect(m.snapshot.context).toMatchObject({ intervalStart: 40, wakeAt: 5040, lastSignOfLife: 40 });
    const jumped = withDeadline();
    jumped.send({ type: 'tick', at: 3_600_000 });
    expect(jumped.snapshot.value).toBe('closed');
  });

  it.each([0, null, undefined])('%s means no deadline, as in libvirt', (advertiseTimeout) => {
    const m = new Stepper({ ...input('server'), advertiseTimeout });
    expect(m.snapshot.context.wakeAt).toBeNull();
    m.send({ type: 'tick', at: 1e12 });
    expect(m.state).toBe('"awaitingAdvertise"');
  });

  it('a libvirt-dialect client (awaiting the supports-feature reply) gets one only if asked', () => {
    expect(new Stepper(input('client', { advertise: false, awaitAdvertise: true })).snapshot.context.wakeAt).toBeNull();
    const m = new Stepper(input('client', { advertise: false, awaitAdvertise: true, advertiseTimeout: 300 }));
    m.send({ type: 'tick', at: 300 });
    expect(m.emitted).toEqual([{ type: 'closed', at: 300, cause: { cause: 'no-advertise', timeout: 300 } }]);
  });

  it('a client that advertises itself never waits, whatever its advertiseTimeout', () => {
    const m = new Stepper(input('client', { advertiseTimeout: 10 }));
    expect(m.snapshot.context.wakeAt).toBe(1000);
    m.runUntil(1500);
    expect(m.sends()).toEqual(['ADVERTISE', 'PING']);
  });
});

describe.each(['client', 'server'] as const)('%s: the keepalive rule', (role) => {
  it('PINGs after each silent interval and declares death at exactly interval*(count+1)', () => {
    const m = started(role);
    m.runUntil(10_000);
    const pings = m.emitted.filter((e) => e.type === 'send' && e.message === 'PING');
    expect(pings).toHaveLength(3);
    expect(m.emitted.at(-1)).toEqual({ type: 'dead', at: 4000, silentFor: 4000, unanswered: 3 });
    expect(m.snapshot.value).toBe('dead');
    expect(m.snapshot.status).toBe('done');
    expect(m.snapshot.context.wakeAt).toBeNull();
  });

  it('count 0 declares death after one silent interval without a PING', () => {
    const m = started(role, { count: 0 });
    m.runUntil(10_000);
    expect(m.sends().filter((s) => s === 'PING')).toEqual([]);
    expect(m.emitted.at(-1)).toMatchObject({ type: 'dead', at: 1000 });
  });

  it.each(['peer.ping', 'peer.pong', 'peer.message', 'peer.advertise'] as const)('%s resets the silence timer and the unanswered count', (type) => {
    const m = started(role);
    m.runUntil(2500); // two PINGs out
    expect(m.snapshot.context.unanswered).toBe(2);
    expect(m.state).toBe('{"alive":"probing"}');
    m.send({ type, at: 2600 });
    expect(m.state).toBe('{"alive":"watching"}');
    expect(m.snapshot.context).toMatchObject({ unanswered: 0, lastSignOfLife: 2600, wakeAt: 3600 });
    m.runUntil(100_000);
    expect(m.emitted.at(-1)).toMatchObject({ type: 'dead', at: 2600 + 4000, silentFor: 4000 });
  });

  it('a PING is always answered, even with this side\'s own PINGs disabled, and it never declares death', () => {
    const m = started(role, { sendPings: false });
    expect(m.send({ type: 'peer.ping', at: 100 })).toEqual([{ type: 'send', message: 'PONG' }]);
    m.send({ type: 'tick', at: 1_000_000 });
    expect(m.state).toBe('{"alive":"passive"}');
    expect(m.snapshot.context).toMatchObject({ pongsSent: 1, pingsSent: 0, wakeAt: null });
    expect(m.emitted.some((e) => e.type === 'dead')).toBe(false);
  });

  it('an early or repeated tick changes nothing', () => {
    const m = started(role);
    const before = m.snapshot;
    expect(m.send({ type: 'tick', at: 999 })).toEqual([]);
    expect(m.snapshot.context).toEqual(before.context);
    m.send({ type: 'tick', at: 1000 });
    expect(m.send({ type: 'tick', at: 1000 })).toEqual([]);
    expect(m.snapshot.context.pingsSent).toBe(1);
  });

  it('a late tick sends its PING when it runs and gives the peer a full interval from then', () => {
    const m = started(role);
    m.send({ type: 'tick', at: 7000 }); // slept through several intervals
    expect(m.snapshot.context).toMatchObject({ pingsSent: 1, unanswered: 1, wakeAt: 8000 });
    m.send({ type: 'peer.pong', at: 7500 });
    expect(m.snapshot.context.unanswered).toBe(0);
  });

  it('a backward clock step re-anchors the interval instead of waiting out the old one', () => {
    const m = started(role);
    m.send({ type: 'tick', at: 1000 }); // PING, interval now starts at 1000
    expect(m.send({ type: 'tick', at: 200 })).toEqual([]);
    expect(m.snapshot.context).toMatchObject({ intervalStart: 200, wakeAt: 1200, lastSignOfLife: 0 });
    m.runUntil(100_000);
    expect(m.emitted.at(-1)).toMatchObject({ type: 'dead', at: 1200 + 2000 });
  });

  it('close and peer.closed end the actor with a reason, from any live state', () => {
    const local = started(role);
    local.send({ type: 'close', at: 5, cause: { cause: 'local', reason: 'bye' } });
    expect(local.emitted.at(-1)).toEqual({ type: 'closed', at: 5, cause: { cause: 'local', reason: 'bye' } });
    const remote = started(role);
    remote.runUntil(1500);
    remote.send({ type: 'peer.closed', at: 1600 });
    expect(remote.emitted.at(-1)).toEqual({ type: 'closed', at: 1600, cause: { cause: 'peer-closed' } });
    expect(remote.snapshot.value).toBe('closed');
    expect(remote.snapshot.context.wakeAt).toBeNull();
  });

  it('a dead actor ignores everything after', () => {
    const m = started(role);
    m.runUntil(10_000);
    const after = m.emitted.length;
    m.send({ type: 'peer.ping', at: 11_000 });
    m.send({ type: 'close', at: 11_001 });
    expect(m.emitted.length).toBe(after);
    expect(m.snapshot.value).toBe('dead');
  });
});

describe('hold (a host resuming connections it was not watching)', () => {
  it('moves a verdict due before `until` to `until`, and the peer dies there, silent since its last sign of life', () => {
    const m = started('server');
    m.runUntil(3500); // three PINGs out: the verdict is due at 4000
    expect(m.snapshot.context).toMatchObject({ unanswered: 3, wakeAt: 4000 });
    const before = m.snapshot.context;
    expect(m.send({ type: 'hold', at: 3500, until: 4800 })).toEqual([]);
    expect(m.snapshot.context).toEqual({ ...before, wakeAt: 4800 });
    expect(m.send({ type: 'tick', at: 4000 })).toEqual([]);
    m.runUntil(100_000);
    expect(m.emitted.at(-1)).toEqual({ type: 'dead', at: 4800, silentFor: 4800, unanswered: 3 });
  });

  it('never moves a verdict earlier, and a sign of life after it starts the rule again', () => {
    const m = started('server');
    m.runUntil(3500);
    m.send({ type: 'hold', at: 3500, until: 3900 });
    expect(m.snapshot.context.wakeAt).toBe(4000);
    m.send({ type: 'hold', at: 3500, until: 4000 });
    expect(m.snapshot.context.wakeAt).toBe(4000);
    m.send({ type: 'hold', at: 3500, until: 9000 });
    m.send({ type: 'peer.pong', at: 3600 });
    expect(m.snapshot.context).toMatchObject({ unanswered: 0, wakeAt: 4600 });
  });

  it('holds the first due tick with count 0 (a verdict), not a PING: a late PING already gives a full interval', () => {
    const zero = started('server', { count: 0 });
    zero.send({ type: 'hold', at: 500, until: 1700 });
    expect(zero.snapshot.context.wakeAt).toBe(1700);
    const m = started('server');
    m.runUntil(1500); // one PING out of three: a PING is next, at 2000
    const before = m.snapshot.context;
    m.send({ type: 'hold', at: 1500, until: 2500 });
    expect(m.snapshot.context).toEqual(before);
  });

  it('changes nothing before ADVERTISE (its deadline is admission), with PINGs off, or once ended', () => {
    const awaiting = new Stepper(input('server', { count: 0, advertiseTimeout: 500 }));
    awaiting.send({ type: 'hold', at: 100, until: 5000 });
    expect(awaiting.snapshot.context.wakeAt).toBe(500);
    const passive = started('server', { sendPings: false });
    const before = passive.snapshot.context;
    passive.send({ type: 'hold', at: 100, until: 5000 });
    expect(passive.snapshot.context).toEqual(before);
    const dead = started('server', { count: 0 });
    dead.runUntil(2000);
    expect(dead.send({ type: 'hold', at: 2000, until: 5000 })).toEqual([]);
    expect(dead.snapshot.context.wakeAt).toBeNull();
  });
});

describe('folded frames', () => {
  it('a peer.message carrying folded PINGs counts them as answered where the state answers PINGs', () => {
    const m = started('client');
    m.send({ type: 'peer.message', at: 300, folded: { pings: 3, pongs: 2, messages: 1 } });
    expect(m.snapshot.context).toMatchObject({ pingsReceived: 3, pongsReceived: 2, messagesReceived: 1, pongsSent: 3, lastSignOfLife: 300 });
  });

  it('and as unanswered before ADVERTISE', () => {
    const m = new Stepper(input('server'));
    m.send({ type: 'peer.message', at: 300, folded: { pings: 3 } });
    expect(m.snapshot.context).toMatchObject({ pingsReceived: 3, pongsSent: 0 });
  });

  it('with `tick`, a PING due by then goes out in the same step, exactly as a peer.message then a tick', () => {
    for (const tick of [2010, 2400]) {
      const one = started('server');
      const two = started('server');
      for (const m of [one, two]) m.send({ type: 'tick', at: 1000 });
      const sent = one.send({ type: 'peer.message', at: 1010, folded: { pongs: 1 }, tick });
      two.send({ type: 'peer.message', at: 1010, folded: { pongs: 1 } });
      expect(sent).toEqual(two.send({ type: 'tick', at: tick }));
      expect(sent).toEqual([{ type: 'send', message: 'PING' }]);
      expect(one.snapshot.value).toEqual(two.snapshot.value);
      expect(one.snapshot.context).toEqual(two.snapshot.context);
      expect(one.snapshot.context).toMatchObject({ unanswered: 1, lastSignOfLife: 1010, intervalStart: tick, wakeAt: tick + 1000, pongsReceived: 1 });
    }
  });

  it('with `tick` before the PING is due, or no PINGs to send, or count 0, it is only the sign of life', () => {
    for (const [extra, tick] of [
      [{}, 2009],
      [{ sendPings: false }, 5000],
      [{ count: 0 }, 5000],
    ] as const) {
      const m = started('server', extra);
      expect(m.send({ type: 'peer.message', at: 1010, tick })).toEqual([]);
      expect(m.snapshot.context).toMatchObject({ lastSignOfLife: 1010, unanswered: 0, pingsSent: 0 });
      expect(m.state).toBe(extra.sendPings === false ? '{"alive":"passive"}' : '{"alive":"watching"}');
    }
  });
});

describe('snapshots', () => {
  it('survive JSON mid-probe and behave identically after restore', () => {
    const live = createActor(keepaliveMachine, { input: input('client') }).start();
    live.send({ type: 'tick', at: 1000 });
    live.send({ type: 'tick', at: 2000 });
    const stored = JSON.parse(JSON.stringify(live.getPersistedSnapshot()));
    const restored = createActor(keepaliveMachine, { snapshot: stored, input: input('client') }).start();
    expect(restored.getSnapshot().value).toEqual({ alive: 'probing' });
    const events = [
      { type: 'peer.pong', at: 2500 },
      { type: 'tick', at: 3500 },
      { type: 'tick', at: 4500 },
      { type: 'tick', at: 5500 },
      { type: 'tick', at: 6500 },
    ] as const;
    const seen: [unknown[], unknown[]] = [[], []];
    live.on('*', (e) => seen[0].push(e));
    restored.on('*', (e) => seen[1].push(e));
    for (const event of events) {
      live.send(event);
      restored.send(event);
    }
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[0].at(-1)).toMatchObject({ type: 'dead', at: 6500 });
    expect(restored.getPersistedSnapshot()).toEqual(live.getPersistedSnapshot());
  });
});
