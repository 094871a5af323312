/**
 * The keepalive rule inside workerd, driven by the object's one alarm at fake times:
 * an answering client lives through many alarms; a silent one dies at exactly
 * interval * (count + 1), with its socket closed and its snapshot gone.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { COUNT, connect, eventually, fakeClock, hubStub, INTERVAL, runAlarm, stats, stored, view } from './helpers.ts';

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

  it('sends nothing to a peer that has not ADVERTISEd, and arms no alarm for it', async () => {
    fakeClock();
    const hub = 'unadvertised';
    const stub = hubStub(hub);
    const peer = await connect(hub);
    peer.ws.send('hello');
    await eventually(async () => expect((await view(stub, peer.id))?.messagesReceived).toBe(1));
    expect(await view(stub, peer.id)).toMatchObject({ state: 'awaitingAdvertise', wakeAt: null });
    expect((await stored(stub)).alarm).toBeNull();
    expect(peer.frames).toEqual([]);
    peer.ws.close(1000, 'done');
    await eventually(async () => expect((await stats(stub)).connections).toBe(0));
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
