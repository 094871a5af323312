/**
 * PINGs answered by the platform without waking the object. The platform stamps each
 * answer with the real time, so this file runs on the real clock and real alarms
 * (interval 1 s, count 2: a silent peer dies about 3 s after its last frame).
 *
 * Tolerances: pingers PING every 200 ms, so one stays alive unless the isolate stalls
 * for over 3 s, and the server never needs to PING it unless a stall exceeds 800 ms.
 * The waits here are the point of the test (time passing while the object sleeps).
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { hubInternals } from '../../../adapters/cloudflare/test-access.ts';
import type { KeepaliveHub } from '../../../adapters/cloudflare/hub.ts';
import type { KeepaliveSnapshot } from '../../../actors/keepalive.ts';
import type { StoredConnection } from '../../../runtime/host/store.ts';
import { COUNT, connect, eventually, hubStub, INTERVAL, stats, view, type Peer } from './helpers.ts';

describe('setWebSocketAutoResponse', () => {
  it('keeps a peer that only PINGs alive with zero webSocketMessage calls for its PINGs, while a silent peer dies', async () => {
    const hub = 'auto-response';
    const stub = hubStub(hub);
    const pinger = await connect(hub);
    const silent = await connect(hub);
    pinger.ws.send('keepalive:ADVERTISE');
    silent.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await stats(stub)).wakes.messages).toBe(2));
    const advertisedAt = Date.now();

    let sent = 0;
    const ticker = setInterval(() => {
      pinger.ws.send('keepalive:PING');
      sent++;
    }, INTERVAL / 5);
    try {
      const close = await silent.closed;
      expect(close.code).toBe(4000);
      expect(close.reason).toMatch(new RegExp(`^peer dead: silent for \\d+ ms, ${COUNT} keepalive PING\\(s\\) unanswered$`));
      // Death comes from the alarm, no sooner than interval * (count + 1) after the ADVERTISE.
      expect(Date.now() - advertisedAt).toBeGreaterThanOrEqual(INTERVAL * (COUNT + 1) - 50);
      // One more interval of PINGs after the death, so the pinger has outlived the bound.
      await eventually(async () => expect(sent).toBeGreaterThanOrEqual(25), 10_000);
    } finally {
      clearInterval(ticker);
    }

    expect(pinger.isClosed).toBe(false);
    await pinger.frameCount(sent);
    expect(new Set(pinger.frames)).toEqual(new Set(['keepalive:PONG']));
    const s = await stats(stub);
    // The two ADVERTISEs were the only deliveries; every PING was answered by the platform.
    expect(s.wakes).toMatchObject({ messages: 2, pings: 0 });
    expect(s.wakes.alarms).toBeGreaterThanOrEqual(COUNT + 1);
    expect(s.host.pongsOnFastPath).toBe(0);
    // Read back at each wake as one sign of life per wake: the host never PINGed it and never answered a PING itself.
    const v = await view(stub, pinger.id);
    expect(v).toMatchObject({ state: 'alive.watching', pingsSent: 0, unanswered: 0 });
    expect(v!.pingsReceived).toBeGreaterThanOrEqual(COUNT + 1);
    expect(v!.pingsReceived).toBeLessThan(sent);
    expect(Date.now() - v!.lastSignOfLife).toBeLessThan(INTERVAL);
    pinger.ws.close(1000, 'done');
  });

  it('keeps a PING-only peer alive across evictions: the rebuilt object reads the answered PINGs back before any step', async () => {
    const hub = 'auto-response-evicted';
    const stub = hubStub(hub);
    const pinger = await connect(hub);
    pinger.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await stats(stub)).wakes.messages).toBe(1));
    let sent = 0;
    const ticker = setInterval(() => {
      pinger.ws.send('keepalive:PING');
      sent++;
    }, INTERVAL / 5);
    try {
      // Evicted about once per interval for past interval * (count + 1): each new instance
      // starts from a snapshot whose last sign of life is the ADVERTISE (folds are not written).
      for (let round = 1; round <= COUNT + 2; round++) {
        await eventually(async () => expect(sent).toBeGreaterThanOrEqual(5 * round), 10_000);
        await evictDurableObject(stub);
      }
    } finally {
      clearInterval(ticker);
    }
    const s = await stats(stub);
    expect(s.wakes.constructed).toBe(COUNT + 3);
    expect(s.wakes).toMatchObject({ messages: 1, pings: 0 });
    expect(pinger.isClosed).toBe(false);
    expect(await view(stub, pinger.id)).toMatchObject({ state: 'alive.watching', pingsSent: 0, unanswered: 0 });
    await pinger.frameCount(sent);
    expect(new Set(pinger.frames)).toEqual(new Set(['keepalive:PONG']));
    // Only the open and the ADVERTISE were ever written for it.
    const row = await runInDurableObject(stub, (_o: KeepaliveHub, state) => state.storage.kv.get<StoredConnection>(`conn:${pinger.id}`));
    expect((row!.snapshot as unknown as KeepaliveSnapshot).context.pingsReceived).toBe(0);
    pinger.ws.close(1000, 'done');
  });

  it('wakes an object with 50 PING-only peers about once per interval, not once per peer', async () => {
    const hub = 'auto-response-many';
    const stub = hubStub(hub);
    const peers: Peer[] = [];
    for (let i = 0; i < 50; i++) peers.push(await connect(hub));
    for (const p of peers) p.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await stats(stub)).wakes.messages).toBe(50));
    const before = await stats(stub);
    // Each peer PINGs every 200 ms, their phases spread over those 200 ms.
    const stops = peers.map((p, i) => {
      let ticker: ReturnType<typeof setInterval> | undefined;
      const start = setTimeout(() => (ticker = setInterval(() => p.ws.send('keepalive:PING'), INTERVAL / 5)), (i * 4) % (INTERVAL / 5));
      return () => {
        clearTimeout(start);
        if (ticker !== undefined) clearInterval(ticker);
      };
    });
    const intervals = 3;
    await scheduler.wait(intervals * INTERVAL);
    for (const stop of stops) stop();
    const after = await stats(stub);
    const alarms = after.wakes.alarms - before.wakes.alarms;
    // Measured about 2 per interval here (each alarm folds every answered PING, so all
    // deadlines move together); one alarm per peer deadline would be about 30 per interval.
    expect(alarms).toBeGreaterThanOrEqual(intervals - 1);
    expect(alarms).toBeLessThanOrEqual(4 * intervals);
    expect(after.wakes.messages).toBe(before.wakes.messages);
    // Nothing written after each peer's open and ADVERTISE: folds of answered PINGs are not stored.
    expect(after.storage.writes).toBe(2 * peers.length);
    expect(peers.some((p) => p.isClosed)).toBe(false);
    for (const p of peers) p.ws.close(1000, 'done');
  });

  it('after an eviction, the first alarm folds every answered PING the rebuild handed over, not just the due ones', async () => {
    const hub = 'auto-response-rebuilt';
    const stub = hubStub(hub);
    const peers: Peer[] = [];
    for (let i = 0; i < 10; i++) peers.push(await connect(hub));
    // ADVERTISEd about 20 ms apart: ten distinct first deadlines.
    for (const [i, p] of peers.entries()) {
      p.ws.send('keepalive:ADVERTISE');
      await eventually(async () => expect((await stats(stub)).wakes.messages).toBe(i + 1));
      await scheduler.wait(20);
    }
    // One PING each, answered by the platform, then the object is evicted before its first alarm.
    const pinged = Date.now();
    for (const p of peers) p.ws.send('keepalive:PING');
    await Promise.all(peers.map((p) => p.frameCount(1)));
    await evictDurableObject(stub);
    // The alarm's wake rebuilds the object, which notes each answered PING as pending; no PING
    // comes after, so the alarm's own hand-over finds nothing newer. It must still fold them all:
    // folding only the due ones leaves the other nine deadlines where the ADVERTISEs put them,
    // one alarm each (the first is re-armed at the second ADVERTISE's deadline).
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = await stats(stub);
    expect(after.wakes.constructed).toBe(2);
    expect(after.alarmAt).toBeGreaterThanOrEqual(pinged + INTERVAL);
    expect(peers.some((p) => p.isClosed)).toBe(false);
    for (const p of peers) p.ws.close(1000, 'done');
  });

  it('answers a PING that comes before ADVERTISE (the platform cannot tell), while the host records it and sends nothing', async () => {
    const hub = 'auto-response-early';
    const stub = hubStub(hub);
    const peer = await connect(hub);
    const deadline = (await view(stub, peer.id))!.wakeAt;
    peer.ws.send('keepalive:PING');
    // The deviation, as it is: the platform answers per object, not per connection state.
    expect(await peer.frameCount(1)).toEqual(['keepalive:PONG']);
    const v = await runInDurableObject(stub, async (o: KeepaliveHub) => {
      await o.alarm(); // any wake reads the auto-response time back
      return hubInternals(o).host.view(peer.id);
    });
    // Recorded, and the ADVERTISE deadline not moved by it: PINGing buys no time.
    expect(v).toMatchObject({ state: 'awaitingAdvertise', advertised: false, pingsReceived: 1, pongsSent: 0, wakeAt: deadline });
    expect(deadline).toBeGreaterThan(0);
    expect((await stats(stub)).wakes.messages).toBe(0);
    peer.ws.close(1000, 'done');
  });
});
