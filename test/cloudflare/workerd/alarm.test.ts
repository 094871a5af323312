/**
 * One alarm per object is the timer for every connection. Alarms are at-least-once and
 * may run late, early or twice: none of that may change the outcome for the worse.
 */
import { runInDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AlarmTimer } from '../../../adapters/cloudflare/alarm.ts';
import type { KeepaliveHub } from '../../../adapters/cloudflare/hub.ts';
import { COUNT, connect, eventually, fakeClock, hubStub, INTERVAL, runAlarm, stats, stored, view, type Peer } from './helpers.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('the alarm', () => {
  it('changes nothing when delivered twice, or re-run by hand at the same time', async () => {
    const clock = fakeClock();
    const hub = 'alarm-duplicate';
    const stub = hubStub(hub);
    const peer = await connect(hub);
    peer.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await view(stub, peer.id))?.advertised).toBe(true));
    clock.at(INTERVAL);
    expect(await runAlarm(stub)).toBe(true);
    await peer.frameCount(1);
    const once = await view(stub, peer.id);
    const storedOnce = await stored(stub);

    // The platform delivers the same alarm again (at-least-once), and a stray call runs it a third time.
    await runInDurableObject(stub, (_o: KeepaliveHub, state) => state.storage.setAlarm(Date.now()));
    expect(await runAlarm(stub)).toBe(true);
    await runInDurableObject(stub, (o: KeepaliveHub) => o.alarm());
    expect(await view(stub, peer.id)).toEqual(once);
    expect(await stored(stub)).toEqual(storedOnce);
    expect((await stats(stub)).wakes.alarms).toBe(3);
    // No second PING went out: a later frame would have arrived before this auto-answered one.
    peer.ws.send('keepalive:PING');
    expect(await peer.frameCount(2)).toEqual(['keepalive:PING', 'keepalive:PONG']);
    peer.ws.close(1000, 'done');
  });

  it('sends one PING when late, and a late alarm only ever delays a death', async () => {
    const clock = fakeClock();
    const hub = 'alarm-late';
    const stub = hubStub(hub);
    const peer = await connect(hub);
    peer.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await view(stub, peer.id))?.advertised).toBe(true));

    // Due at 1 interval, runs at 2.5: one PING (not two), and the peer gets a full interval from then.
    clock.at(2.5 * INTERVAL);
    await runAlarm(stub);
    expect(await peer.frameCount(1)).toEqual(['keepalive:PING']);
    expect(await view(stub, peer.id)).toMatchObject({ unanswered: 1, pingsSent: 1, wakeAt: clock.t0 + 3.5 * INTERVAL });

    // On time it would have died at interval * (count + 1); late, it is still alive then.
    clock.at(INTERVAL * (COUNT + 1));
    await runAlarm(stub);
    expect(peer.isClosed).toBe(false);

    let at = 2.5 * INTERVAL;
    for (let k = 2; k <= COUNT; k++) {
      at += INTERVAL;
      clock.at(at);
      await runAlarm(stub);
      await peer.frameCount(k);
    }
    clock.at(at + INTERVAL);
    await runAlarm(stub);
    const close = await peer.closed;
    expect(close.reason).toBe(`peer dead: silent for ${at + INTERVAL} ms, ${COUNT} keepalive PING(s) unanswered`);
  });

  it('fires early and harmlessly when a sign of life moved the deadline later, then re-arms at the new one', async () => {
    const clock = fakeClock();
    const hub = 'alarm-early';
    const stub = hubStub(hub);
    const peer = await connect(hub);
    peer.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await view(stub, peer.id))?.advertised).toBe(true));
    clock.at(INTERVAL / 4);
    peer.ws.send('application data');
    await eventually(async () => expect((await stats(stub)).wakes.messages).toBe(2));
    // The armed alarm stays where it was: moving it later would cost a storage write per frame.
    expect((await stored(stub)).alarm).toBe(clock.t0 + INTERVAL);
    clock.at(INTERVAL);
    await runAlarm(stub);
    expect((await stored(stub)).alarm).toBe(clock.t0 + INTERVAL + INTERVAL / 4);
    expect((await view(stub, peer.id))?.pingsSent).toBe(0);
    clock.at(INTERVAL + INTERVAL / 4);
    await runAlarm(stub);
    expect(await peer.frameCount(1)).toEqual(['keepalive:PING']);
    peer.ws.close(1000, 'done');
  });

  it('moves the alarm later when a peer answers our PING: no early wake, the same alarm writes, the death bound exact', async () => {
    const clock = fakeClock();
    const hub = 'alarm-follows-answer';
    const stub = hubStub(hub);
    const peer = await connect(hub);
    peer.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await view(stub, peer.id))?.advertised).toBe(true));
    clock.at(INTERVAL);
    await runAlarm(stub);
    await peer.frameCount(1);
    expect((await stored(stub)).alarm).toBe(clock.t0 + 2 * INTERVAL);

    // The answer arrives while the object is awake anyway: folded now, and the alarm follows it.
    clock.at(INTERVAL + INTERVAL / 4);
    peer.ws.send('keepalive:PONG');
    await eventually(async () => expect((await stored(stub)).alarm).toBe(clock.t0 + 2 * INTERVAL + INTERVAL / 4));
    expect(await view(stub, peer.id)).toMatchObject({ state: 'alive.watching', unanswered: 0, lastSignOfLife: clock.t0 + INTERVAL + INTERVAL / 4 });

    clock.at(2 * INTERVAL + INTERVAL / 4);
    await runAlarm(stub);
    expect(await peer.frameCount(2)).toEqual(['keepalive:PING', 'keepalive:PING']);
    // Two alarms for two PINGs; without the move there is an early one between them. Alarm
    // writes: the ADVERTISE deadline at open, ADVERTISE, after PING 1, the move, after PING 2
    // (the early alarm's re-arm costs the same).
    expect((await stats(stub)).wakes).toMatchObject({ alarms: 2, messages: 2 });
    expect((await stats(stub)).alarmsSet).toBe(5);

    // Silent from now on: dead exactly interval * (count + 1) after the PONG, not a millisecond sooner.
    const lastSignOfLife = INTERVAL + INTERVAL / 4;
    for (let k = 2; k <= COUNT; k++) {
      clock.at(lastSignOfLife + k * INTERVAL);
      await runAlarm(stub);
      await peer.frameCount(1 + k);
    }
    const deadAt = lastSignOfLife + INTERVAL * (COUNT + 1);
    clock.at(deadAt - 1);
    await runAlarm(stub);
    expect(peer.isClosed).toBe(false);
    expect((await stored(stub)).alarm).toBe(clock.t0 + deadAt);
    clock.at(deadAt);
    await runAlarm(stub);
    expect((await peer.closed).reason).toBe(`peer dead: silent for ${INTERVAL * (COUNT + 1)} ms, ${COUNT} keepalive PING(s) unanswered`);
  });

  it('is one alarm for 100 sockets on one object: armed once, one wake PINGs them all', async () => {
    const clock = fakeClock();
    const hub = 'alarm-hundred';
    const stub = hubStub(hub);
    const peers: Peer[] = [];
    for (let i = 0; i < 100; i++) peers.push(await connect(hub));
    // Their 100 ADVERTISE deadlines (all at t0 + interval*(count+1)) share one alarm.
    expect(await stats(stub)).toMatchObject({ alarmsSet: 1, alarmAt: clock.t0 + INTERVAL * (COUNT + 1) });
    // ADVERTISEd 1 ms apart, so their deadlines differ.
    for (let i = 0; i < 100; i++) {
      clock.at(i);
      peers[i]!.ws.send('keepalive:ADVERTISE');
      await eventually(async () => expect((await stats(stub)).wakes.messages).toBe(i + 1));
    }
    const armed = await stats(stub);
    // Moved once, to the first keepalive deadline; the 99 later ones kept it.
    expect(armed.alarmsSet).toBe(2);
    expect(armed.alarmAt).toBe(clock.t0 + INTERVAL);
    expect((await stored(stub)).alarm).toBe(clock.t0 + INTERVAL);
    expect(armed.connections).toBe(100);

    clock.at(INTERVAL + 99);
    expect(await runAlarm(stub)).toBe(true);
    await Promise.all(peers.map((p) => p.frameCount(1)));
    expect(peers.every((p) => p.frames[0] === 'keepalive:PING')).toBe(true);
    const after = await stats(stub);
    expect(after.wakes).toMatchObject({ constructed: 1, alarms: 1, messages: 100 });
    // Re-armed once, at the earliest new deadline: all PINGs went out at the same time.
    expect(after.alarmsSet).toBe(3);
    expect(after.alarmAt).toBe(clock.t0 + 2 * INTERVAL + 99);
    for (const p of peers) p.ws.close(1000, 'done');
    await eventually(async () => expect((await stats(stub)).connections).toBe(0));
    expect((await stored(stub)).alarm).toBeNull();
  });
});

describe('AlarmTimer on real Durable Object storage', () => {
  it('keeps an earlier alarm, moves to an earlier one, adds the slack, deletes it when nothing is left, and follows a later one on request', async () => {
    const stub = hubStub('alarm-timer-unit');
    const result = await runInDurableObject(stub, async (_o: KeepaliveHub, state) => {
      await state.storage.deleteAlarm();
      const timer = new AlarmTimer(state.storage, 250);
      await timer.load();
      const base = Date.now() + 86_400_000;
      const seen: (number | null)[] = [];
      const step = async (deadline: number | null) => {
        timer.schedule(deadline);
        seen.push(await state.storage.getAlarm());
      };
      await step(base + 1000);
      await step(base + 2000);
      await step(base + 500);
      timer.fired();
      await step(base + 3000);
      await step(null);
      // follow: also moves an armed alarm later (awake anyway), and never for an earlier or equal one.
      const follow = async (deadline: number | null) => {
        timer.follow(deadline);
        seen.push(await state.storage.getAlarm());
      };
      await follow(base + 4000);
      await follow(base + 5000);
      await follow(base + 4500);
      await follow(base + 4500);
      return { base, seen, setCount: timer.setCount };
    });
    const { base } = result;
    expect(result.seen).toEqual([base + 1250, base + 1250, base + 750, base + 3250, null, base + 4250, base + 5250, base + 4750, base + 4750]);
    expect(result.setCount).toBe(6);
  });
});
