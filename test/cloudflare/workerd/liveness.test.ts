/**
 * The keepalive rule inside workerd, driven by the object's one alarm at fake times:
 * an answering client lives through many alarms; a silent one dies at exactly
 * interval * (count + 1), with its socket closed and its snapshot gone.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { COUNT, connect, eventually, fakeClock, get, hubStub, INTERVAL, runAlarm, stats, stored, view, type Peer } from './helpers.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('alarm-driven liveness', () => {
  it('keeps a client that answers every PING alive across many alarms, one alarm and one PING per interval', async () => {
    const clock = fakeClock();
    const hub = 'answering';
    const stub = hubStub(hub);
    const peer = await connect(hub);
    peer.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await view(stub, peer.id))?.advertised).toBe(true));
    const rounds = 20;
    for (let k = 1; k <= rounds; k++) {
      clock.at(k * INTERVAL);
      expect(await runAlarm(stub)).toBe(true);
      const frames = await peer.frameCount(k);
      expect(frames[k - 1]).toBe('keepalive:PING');
      // Answered at once (the fake clock stands still): the next PING is due one interval later.
      peer.ws.send('keepalive:PONG');
      await eventually(async () => expect((await stats(stub)).wakes.messages).toBe(1 + k));
    }
    const after = await stats(stub);
    expect(after.wakes.alarms).toBe(rounds);
    // Each PONG was recorded on the fast path and folded at the next tick: at most two steps per interval.
    expect(after.host.steps).toBeLessThanOrEqual(2 + 2 * rounds);
    const v = await view(stub, peer.id);
    expect(v).toMatchObject({ state: 'alive.watching', pingsSent: rounds, pongsReceived: rounds, unanswered: 0 });
    expect(v!.lastSignOfLife).toBe(clock.t0 + rounds * INTERVAL);
    expect((await stored(stub)).alarm).toBe(clock.t0 + (rounds + 1) * INTERVAL);
    expect(peer.isClosed).toBe(false);
    expect(peer.frames.every((f) => f === 'keepalive:PING')).toBe(true);
    peer.ws.close(1000, 'done');
  });

  it('declares a silent client dead at exactly interval * (count + 1) and closes its socket with the reason', async () => {
    const clock = fakeClock();
    const hub = 'silent';
    const stub = hubStub(hub);
    const peer = await connect(hub);
    peer.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await view(stub, peer.id))?.advertised).toBe(true));
    const deathAt = clock.t0 + INTERVAL * (COUNT + 1);

    for (let k = 1; k <= COUNT; k++) {
      clock.at(k * INTERVAL);
      expect(await runAlarm(stub)).toBe(true);
      expect((await peer.frameCount(k))[k - 1]).toBe('keepalive:PING');
    }
    expect(await view(stub, peer.id)).toMatchObject({ state: 'alive.probing', unanswered: COUNT, wakeAt: deathAt });
    expect((await stored(stub)).alarm).toBe(deathAt);

    // One ms early: the alarm runs, ticks nothing, re-arms the same deadline.
    clock.at(INTERVAL * (COUNT + 1) - 1);
    expect(await runAlarm(stub)).toBe(true);
    expect(await view(stub, peer.id)).toMatchObject({ state: 'alive.probing' });
    expect((await stored(stub)).alarm).toBe(deathAt);

    clock.at(INTERVAL * (COUNT + 1));
    expect(await runAlarm(stub)).toBe(true);
    const close = await peer.closed;
    expect(close.code).toBe(4000);
    expect(close.reason).toBe(`peer dead: silent for ${INTERVAL * (COUNT + 1)} ms, ${COUNT} keepalive PING(s) unanswered`);
    expect(peer.frames).toHaveLength(COUNT);
    // Nothing left to watch: snapshot deleted, no alarm armed.
    expect(await stored(stub)).toEqual({ ids: [], alarm: null });
    expect(await runAlarm(stub)).toBe(false);
    expect((await stats(stub)).connections).toBe(0);
  });

  it('sends nothing to a peer that has not ADVERTISEd; its one alarm is the ADVERTISE deadline (interval * (count + 1) by default)', async () => {
    const clock = fakeClock();
    const hub = 'unadvertised';
    const stub = hubStub(hub);
    const peer = await connect(hub);
    const deadline = clock.t0 + INTERVAL * (COUNT + 1);
    clock.at(INTERVAL);
    peer.ws.send('hello');
    await eventually(async () => expect((await view(stub, peer.id))?.messagesReceived).toBe(1));
    // A sign of life, but it buys no time: the deadline stays where it was.
    expect(await view(stub, peer.id)).toMatchObject({ state: 'awaitingAdvertise', wakeAt: deadline, lastSignOfLife: clock.t0 + INTERVAL });
    expect((await stored(stub)).alarm).toBe(deadline);
    clock.at(INTERVAL * (COUNT + 1) - 1);
    expect(await runAlarm(stub)).toBe(true);
    expect(peer.isClosed).toBe(false);
    expect(peer.frames).toEqual([]);
    peer.ws.close(1000, 'done');
    await eventually(async () => expect((await stats(stub)).connections).toBe(0));
    expect(await stored(stub)).toEqual({ ids: [], alarm: null });
  });

  it('closes peers that never ADVERTISE at the deadline, by alarm, with the reason, and frees their places under the cap', async () => {
    const clock = fakeClock();
    const hub = 'advertise-deadline';
    const stub = hubStub(hub);
    // The test config caps a hub at 100: 98 idle sockets and one that PINGs (answered by
    // the platform) but never advertises, then one well-behaved peer fill it.
    const idle: Peer[] = [];
    for (let i = 0; i < 98; i++) idle.push(await connect(hub));
    const pinger = await connect(hub);
    clock.at(INTERVAL);
    const good = await connect(hub);
    good.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await view(stub, good.id))?.advertised).toBe(true));
    pinger.ws.send('keepalive:PING');
    expect(await pinger.frameCount(1)).toEqual(['keepalive:PONG']);
    expect((await get(`/connect/${hub}`, { headers: { Upgrade: 'websocket' } })).status).toBe(503);
    const deadline = clock.t0 + INTERVAL * (COUNT + 1);
    expect((await stored(stub)).ids).toHaveLength(100);

    clock.at(INTERVAL * (COUNT + 1));
    expect(await runAlarm(stub)).toBe(true);
    const reason = `no ADVERTISE within ${INTERVAL * (COUNT + 1)} ms`;
    for (const peer of [...idle, pinger]) expect(await peer.closed).toMatchObject({ code: 4000, reason });
    expect(idle.every((peer) => peer.frames.length === 0)).toBe(true);
    // Their rows are gone with them and their places free; the advertised peer carries on:
    // its PING, due at 2 intervals, went out late on the same alarm and gets a full interval.
    expect(await stored(stub)).toEqual({ ids: [good.id], alarm: deadline + INTERVAL });
    expect((await stats(stub)).connections).toBe(1);
    expect(await view(stub, good.id)).toMatchObject({ state: 'alive.probing', pingsSent: 1 });
    expect(await good.frameCount(1)).toEqual(['keepalive:PING']);
    const newcomer = await connect(hub);
    expect((await stats(stub)).connections).toBe(2);
    for (const peer of [good, newcomer]) peer.ws.close(1000, 'done');
  });

  it("forgets a connection when its peer closes: snapshot deleted, the peer's reason recorded", async () => {
    fakeClock();
    const hub = 'peer-closes';
    const stub = hubStub(hub);
    const peer = await connect(hub);
    peer.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await stored(stub)).alarm).not.toBeNull());
    expect((await stored(stub)).ids).toEqual([peer.id]);
    peer.ws.close(1000, 'bye');
    await eventually(async () => expect(await stored(stub)).toEqual({ ids: [], alarm: null }));
    expect((await stats(stub)).wakes.closes).toBe(1);
  });
});
