/**
 * Eviction between any two events: a new instance is built from storage and the
 * hibernated sockets, and carries on as if nothing happened.
 */
import { evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { hubInternals } from '../../../adapters/cloudflare/test-access.ts';
import type { KeepaliveHub } from '../../../adapters/cloudflare/hub.ts';
import { createLibvirtCodec } from '../../../runtime/codec/libvirt.ts';
import type { KeepaliveSnapshot } from '../../../actors/keepalive.ts';
import type { StoredConnection } from '../../../runtime/host/store.ts';
import { COUNT, connect, eventually, fakeClock, hubStub, INTERVAL, runAlarm, stats, stored, view } from './helpers.ts';

const libvirt = createLibvirtCodec({ advertise: true });
const LIBVIRT = { ADVERTISE: libvirt.encode('ADVERTISE') as Uint8Array, PONG: libvirt.encode('PONG') as Uint8Array };

afterEach(() => {
  vi.useRealTimers();
});

describe('eviction', () => {
  it('resumes deadlines and counters mid-probe and declares death at the same time as without eviction', async () => {
    const clock = fakeClock();
    const hub = 'evict-mid-probe';
    const stub = hubStub(hub);
    const peer = await connect(hub);
    peer.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await view(stub, peer.id))?.advertised).toBe(true));

    clock.at(INTERVAL);
    expect(await runAlarm(stub)).toBe(true);
    await peer.frameCount(1);
    const probing = await view(stub, peer.id);
    expect(probing).toMatchObject({ state: 'alive.probing', unanswered: 1, pingsSent: 1, wakeAt: clock.t0 + 2 * INTERVAL });

    await evictDurableObject(stub);
    // The first event after eviction builds a new instance (the constructor counts itself).
    expect(await view(stub, peer.id)).toEqual(probing);
    expect((await stats(stub)).wakes.constructed).toBe(2);
    expect((await stored(stub)).alarm).toBe(clock.t0 + 2 * INTERVAL);

    for (let k = 2; k <= COUNT; k++) {
      clock.at(k * INTERVAL);
      expect(await runAlarm(stub)).toBe(true);
      await peer.frameCount(k);
      await evictDurableObject(stub);
    }
    expect(await view(stub, peer.id)).toMatchObject({ state: 'alive.probing', unanswered: COUNT, pingsSent: COUNT });
    expect((await stats(stub)).wakes.constructed).toBe(COUNT + 1);

    clock.at(INTERVAL * (COUNT + 1) - 1);
    await runAlarm(stub);
    expect(peer.isClosed).toBe(false);
    clock.at(INTERVAL * (COUNT + 1));
    await runAlarm(stub);
    const close = await peer.closed;
    expect(close.code).toBe(4000);
    expect(close.reason).toBe(`peer dead: silent for ${INTERVAL * (COUNT + 1)} ms, ${COUNT} keepalive PING(s) unanswered`);
    expect(peer.frames).toEqual(Array(COUNT).fill('keepalive:PING'));
    expect(await stored(stub)).toEqual({ ids: [], alarm: null });
  });

  it('keeps a PONG recorded on the fast path (never stepped, never stored) across an eviction', async () => {
    const clock = fakeClock();
    const hub = 'evict-fast-path';
    const stub = hubStub(hub);
    const peer = await connect(hub);
    peer.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await view(stub, peer.id))?.advertised).toBe(true));
    clock.at(INTERVAL);
    await runAlarm(stub);
    await peer.frameCount(1);
    // Evicted between our PING and its answer: the new instance does not know a PING is out
    // (the answer to one the instance itself sent is folded at once, see alarm.test.ts), so
    // the PONG takes the fast path.
    await evictDurableObject(stub);

    const steps = (await stats(stub)).host.steps;
    const storedSnapshot = () =>
      runInDurableObject(stub, (_o: KeepaliveHub, state) => state.storage.kv.get<StoredConnection>(`conn:${peer.id}`)!.snapshot as unknown as KeepaliveSnapshot);
    expect((await storedSnapshot()).context.unanswered).toBe(1);

    clock.at(INTERVAL + INTERVAL / 2);
    peer.ws.send('keepalive:PONG');
    await eventually(async () => expect((await stats(stub)).wakes.messages).toBe(2));
    // Not a step, not a write: the storage still says one PING is unanswered.
    expect((await stats(stub)).host.steps).toBe(steps);
    expect((await storedSnapshot()).context.unanswered).toBe(1);

    await evictDurableObject(stub);
    // The socket's attachment brought the PONG's time back.
    expect(await view(stub, peer.id)).toMatchObject({
      state: 'alive.watching',
      unanswered: 0,
      lastSignOfLife: clock.t0 + INTERVAL + INTERVAL / 2,
      wakeAt: clock.t0 + 2 * INTERVAL + INTERVAL / 2,
    });

    // The alarm armed before the PONG fires early and harmlessly; the next PING is one interval after the PONG.
    clock.at(2 * INTERVAL);
    await runAlarm(stub);
    expect((await stored(stub)).alarm).toBe(clock.t0 + 2 * INTERVAL + INTERVAL / 2);
    clock.at(2 * INTERVAL + INTERVAL / 2);
    await runAlarm(stub);
    expect(await peer.frameCount(2)).toEqual(['keepalive:PING', 'keepalive:PING']);
    // Where the lost PONG would have meant death, the peer is alive and merely probed.
    clock.at(INTERVAL * (COUNT + 1));
    await runAlarm(stub);
    expect(peer.isClosed).toBe(false);
    expect(await view(stub, peer.id)).toMatchObject({ state: 'alive.probing', unanswered: 1 });
    peer.ws.close(1000, 'done');
  });

  it('evicted between the alarm and the answer: PONGs (text and binary) reach the rebuilt object, no PING is repeated, nothing is forgotten or doubled', async () => {
    const clock = fakeClock();
    const hub = 'evict-between-alarm-and-message';
    const stub = hubStub(hub);
    const text = await connect(hub);
    const binary = await connect(hub, '?codec=libvirt');
    const silent = await connect(hub);
    text.ws.send('keepalive:ADVERTISE');
    binary.ws.send(LIBVIRT.ADVERTISE);
    silent.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await stats(stub)).wakes.messages).toBe(3));

    // The alarm PINGs all three; the object is evicted before any answer comes.
    clock.at(INTERVAL);
    expect(await runAlarm(stub)).toBe(true);
    for (const peer of [text, binary, silent]) await peer.frameCount(1);
    const probing = await runInDurableObject(stub, (o: KeepaliveHub) => hubInternals(o).host.list());
    for (const v of probing) expect(v).toMatchObject({ state: 'alive.probing', unanswered: 1, pingsSent: 1, wakeAt: clock.t0 + 2 * INTERVAL });
    await evictDurableObject(stub);

    // The answers arrive as messages to a new instance, half an interval after the PINGs.
    const answeredAt = clock.at(INTERVAL + INTERVAL / 2);
    text.ws.send('keepalive:PONG');
    binary.ws.send(LIBVIRT.PONG);
    await eventually(async () => expect((await stats(stub)).wakes).toMatchObject({ constructed: 2, messages: 3 + 2 }));
    const after = await runInDurableObject(stub, (o: KeepaliveHub) => hubInternals(o).host.list());
    expect(after.map((v) => v.id).sort()).toEqual([text.id, binary.id, silent.id].sort());
    for (const peer of [text, binary]) {
      expect(after.find((v) => v.id === peer.id)).toMatchObject({
        state: 'alive.watching',
        unanswered: 0,
        pingsSent: 1,
        pongsReceived: 1,
        lastSignOfLife: answeredAt,
        wakeAt: answeredAt + INTERVAL,
      });
    }
    // Untouched by the eviction: its deadline and counters are those of before.
    expect(after.find((v) => v.id === silent.id)).toEqual(probing.find((v) => v.id === silent.id));
    expect((await stored(stub)).ids.sort()).toEqual([text.id, binary.id, silent.id].sort());
    // The rebuilt object ticked on waking but sent nothing: no PING twice.
    for (const peer of [text, binary, silent]) expect(peer.frames).toHaveLength(1);

    // And evicted again (the PONGs were never written, only kept on the sockets): same liveness.
    await evictDurableObject(stub);
    const again = await runInDurableObject(stub, (o: KeepaliveHub) => hubInternals(o).host.list());
    for (const peer of [text, binary]) {
      expect(again.find((v) => v.id === peer.id)).toMatchObject({ state: 'alive.watching', unanswered: 0, lastSignOfLife: answeredAt, wakeAt: answeredAt + INTERVAL });
    }
    expect(again.find((v) => v.id === silent.id)).toEqual(probing.find((v) => v.id === silent.id));

    // Deadlines as if nothing happened: the silent peer gets its second PING at 2 intervals
    // and dies at exactly interval * (count + 1); the others are PINGed half an interval later.
    clock.at(2 * INTERVAL);
    await runAlarm(stub);
    expect(await silent.frameCount(2)).toEqual(['keepalive:PING', 'keepalive:PING']);
    expect(text.frames).toHaveLength(1);
    clock.at(2 * INTERVAL + INTERVAL / 2);
    await runAlarm(stub);
    await text.frameCount(2);
    await binary.frameCount(2);
    clock.at(INTERVAL * (COUNT + 1) - 1);
    await runAlarm(stub);
    expect(silent.isClosed).toBe(false);
    clock.at(INTERVAL * (COUNT + 1));
    await runAlarm(stub);
    expect((await silent.closed).reason).toBe(`peer dead: silent for ${INTERVAL * (COUNT + 1)} ms, ${COUNT} keepalive PING(s) unanswered`);
    expect(await runInDurableObject(stub, (o: KeepaliveHub) => hubInternals(o).host.list().map((v) => [v.id, v.state, v.unanswered]))).toEqual(
      expect.arrayContaining([
        [text.id, 'alive.probing', 1],
        [binary.id, 'alive.probing', 1],
      ]),
    );
    expect((await stats(stub)).connections).toBe(2);
    for (const peer of [text, binary]) peer.ws.close(1000, 'done');
  });

  it('rebuilds a sign of life whose fold was not written (nothing the platform could not give back) from the socket', async () => {
    const clock = fakeClock();
    const hub = 'evict-unwritten-fold';
    const stub = hubStub(hub);
    const peer = await connect(hub);
    peer.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await view(stub, peer.id))?.advertised).toBe(true));
    clock.at(INTERVAL / 4);
    peer.ws.send('application data');
    await eventually(async () => expect((await stats(stub)).wakes.messages).toBe(2));
    // The early alarm folds the message in: watching before and after, so no row is written.
    clock.at(INTERVAL);
    await runAlarm(stub);
    const folded = await view(stub, peer.id);
    expect(folded).toMatchObject({ state: 'alive.watching', lastSignOfLife: clock.t0 + INTERVAL / 4, messagesReceived: 1 });
    expect((await stats(stub)).storage).toMatchObject({ writes: 2, skipped: 1 });

    await evictDurableObject(stub);
    expect(await view(stub, peer.id)).toEqual(folded);
    expect((await stored(stub)).alarm).toBe(clock.t0 + INTERVAL + INTERVAL / 4);
    clock.at(INTERVAL + INTERVAL / 4);
    await runAlarm(stub);
    expect(await peer.frameCount(1)).toEqual(['keepalive:PING']);
    peer.ws.close(1000, 'done');
  });

  it('resumes many connections in different states, and forgets the ones whose sockets did not survive', async () => {
    const clock = fakeClock();
    const hub = 'evict-many';
    const stub = hubStub(hub);
    const waiting = await connect(hub);
    const watching = await connect(hub);
    const probing = await connect(hub);
    watching.ws.send('keepalive:ADVERTISE');
    // Each frame is handled before the clock moves: the object reads the same fake Date.
    await eventually(async () => expect((await view(stub, watching.id))?.advertised).toBe(true));
    clock.at(INTERVAL / 2);
    probing.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await view(stub, probing.id))?.advertised).toBe(true));
    clock.at(INTERVAL);
    await runAlarm(stub);
    await watching.frameCount(1);
    watching.ws.send('keepalive:PONG');
    await eventually(async () => expect((await stats(stub)).wakes.messages).toBe(3));
    clock.at(INTERVAL + INTERVAL / 2);
    await runAlarm(stub);
    await probing.frameCount(1);

    const before = await runInDurableObject(stub, (o: KeepaliveHub) => hubInternals(o).host.list());
    expect(before.map((v) => v.state).sort()).toEqual(['alive.probing', 'alive.watching', 'awaitingAdvertise']);
    await evictDurableObject(stub);
    const after = await runInDurableObject(stub, (o: KeepaliveHub) => hubInternals(o).host.list());
    expect(after.sort((a, b) => a.id.localeCompare(b.id))).toEqual(before.sort((a, b) => a.id.localeCompare(b.id)));
    expect(new Set(after.map((v) => v.id)).size).toBe(3);

    // Evicted with its sockets closed (as a restart does): the rebuilt object keeps no stale actor.
    await evictDurableObject(stub, { webSockets: 'close' });
    await Promise.all([waiting.closed, watching.closed, probing.closed]);
    await eventually(async () => expect(await stored(stub)).toEqual({ ids: [], alarm: null }));
    // No webSocketClose reached anyone: the new instance found records without sockets and dropped them.
    expect((await stats(stub)).wakes).toMatchObject({ constructed: 3, closes: 0 });
    expect((await stats(stub)).connections).toBe(0);
  });
});
