/**
 * Hooks and webhooks on Cloudflare, inside real workerd: a KeepaliveHub subclass behind the
 * Worker's own routes (worker.ts), evicted between a verdict and its hook, and a webhook
 * receiver (receiver.ts, loopback) that is down across an eviction.
 */
import { evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ApplicationEvent, OutboxRecord } from '../../../runtime/application/events.ts';
import { COUNT, connect, eventually, fakeClock, hubStub, INTERVAL, runAlarm, TOKEN, type Stub } from '../workerd/helpers.ts';
import type { HookCall } from './worker.ts';

const RECEIVER = (env as unknown as { RECEIVER_URL: string }).RECEIVER_URL;

afterEach(() => {
  vi.useRealTimers();
});

// Read through the object's own test routes (worker.ts), not runInDurableObject: see there.
const calls = async (stub: Stub) => (await (await stub.fetch('http://hub.test/test/calls')).json()) as HookCall[];
const owed = async (stub: Stub, to: 'hooks' | 'webhook') =>
  ((await (await stub.fetch('http://hub.test/test/events')).json()) as OutboxRecord[]).filter((record) => record.owed.includes(to));
// Where no hook is waiting, reading inside the object leaves nothing in flight that would hold off an eviction.
const owedInside = (stub: Stub) =>
  runInDurableObject(stub, (_o, state) =>
    [...state.storage.kv.list<OutboxRecord>({ prefix: 'event:' })].map(([, record]) => record).filter((record) => record.owed.includes('webhook')),
  );

async function evictBetweenEvents(stub: Stub): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await evictDurableObject(stub);
    } catch (error) {
      if (attempt >= 10 || !/active references/.test(String(error))) throw error;
    }
  }
}

async function control(hub: string, state: { down?: boolean; fail?: number }): Promise<void> {
  await fetch(`${RECEIVER}/control/${hub}`, { method: 'POST', body: JSON.stringify(state) });
}

async function received(hub: string): Promise<{ event: ApplicationEvent; signed: boolean; status: number }[]> {
  return (await (await fetch(`${RECEIVER}/received/${hub}`)).json()) as { event: ApplicationEvent; signed: boolean; status: number }[];
}

describe('hooks in a KeepaliveHub subclass', () => {
  it('authorize refuses before the upgrade; onOpen, onMessage with send and broadcast, presence with the peer', async () => {
    const hub = `hooks-basic-${crypto.randomUUID()}`;
    const stub = hubStub(hub);
    const refused = await exports.default.fetch(`http://hub.test/connect/${hub}?deny=1`, { headers: { Upgrade: 'websocket' } });
    expect(refused.status).toBe(403);
    expect(refused.webSocket).toBeNull();

    const alice = await connect(hub, '?name=alice');
    const bob = await connect(hub, '?name=bob');
    alice.ws.send('keepalive:ADVERTISE');
    bob.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await calls(stub)).filter((c) => c.hook === 'onOpen')).toHaveLength(2));
    alice.ws.send('hello');
    alice.ws.send(new Uint8Array([1, 2, 3]));
    await alice.frameCount(2);
    expect(alice.frames).toEqual(['echo:hello', 'echo:bytes:3']);
    await bob.frameCount(2);
    expect(bob.frames).toEqual(['alice said hello', 'alice said bytes:3']);
    const opened = (await calls(stub)).find((c) => c.hook === 'onOpen' && c.peer === 'alice');
    expect(opened?.detail).toEqual({ room: 'lobby', transport: 'websocket', codec: 'text' });

    expect((await exports.default.fetch(`http://hub.test/presence/${hub}`)).status).toBe(401);
    const presence = (await (await exports.default.fetch(`http://hub.test/presence/${hub}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      peer: string;
    }[];
    expect(presence.map((p) => p.peer).sort()).toEqual(['alice', 'bob']);
    alice.ws.close(1000, 'bye');
    bob.ws.close(1000, 'bye');
    await eventually(async () => expect((await calls(stub)).filter((c) => c.hook === 'onClose')).toHaveLength(2));
  });

  it('a hook that throws is contained: the connection keeps its keepalive', async () => {
    const clock = fakeClock();
    const hub = `hooks-throw-${crypto.randomUUID()}`;
    const stub = hubStub(hub);
    const peer = await connect(hub, '?name=carol');
    peer.ws.send('keepalive:ADVERTISE');
    peer.ws.send('throw');
    await eventually(async () => expect((await calls(stub)).some((c) => c.hook === 'onMessage' && c.detail === 'throw')).toBe(true));
    clock.at(INTERVAL);
    await runAlarm(stub);
    await peer.frameCount(1);
    expect(peer.frames).toEqual(['keepalive:PING']);
    expect(peer.isClosed).toBe(false);
    peer.ws.close(1000, 'done');
  });

  it('evicted between the verdict and the hook: the rebuilt object runs onDead and onClose, once, and only for the dead connection', async () => {
    const clock = fakeClock();
    const hub = `hooks-evict-${crypto.randomUUID()}`;
    const stub = hubStub(hub);
    const silent = await connect(hub, '?name=silent');
    silent.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await calls(stub)).filter((c) => c.hook === 'onOpen')).toHaveLength(1));
    // onDead never returns in this instance: still running when the object is evicted.
    await stub.fetch('http://hub.test/test/hang?hook=onDead', { method: 'POST' });

    // A second peer joins later and answers every PING: it must never get a verdict.
    clock.at(INTERVAL / 2);
    const alive = await connect(hub, '?name=alive');
    alive.ws.addEventListener('message', (event) => event.data === 'keepalive:PING' && alive.ws.send('keepalive:PONG'));
    alive.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await calls(stub)).filter((c) => c.hook === 'onOpen')).toHaveLength(2));

    for (let k = 1; k <= COUNT + 1; k++) {
      clock.at(k * INTERVAL);
      await runAlarm(stub);
      if (k <= COUNT) await silent.frameCount(k);
    }
    const close = await silent.closed;
    expect(close.reason).toMatch(/^peer dead/);
    // The verdict is in storage, owed to the hooks; the hook has not returned.
    const pending = await owed(stub, 'hooks');
    expect(pending.map((r) => r.event.type).sort()).toEqual(['closed', 'dead']);
    expect(pending.every((r) => r.owed.includes('hooks'))).toBe(true);
    expect((await calls(stub)).some((c) => c.hook === 'onDead')).toBe(false);

    await stub.fetch('http://hub.test/test/hang?hook=onDead', { method: 'DELETE' });
    // The platform evicts after in-flight work had its time (vitest's eviction waits ~10 s for it);
    // any request then rebuilds the object, which runs what was owed.
    await evictDurableObject(stub);
    await eventually(async () => {
      const done = await calls(stub);
      expect(done.filter((c) => c.hook === 'onClose')).toHaveLength(1);
    });
    const done = await calls(stub);
    const dead = done.filter((c) => c.hook === 'onDead');
    expect(dead).toEqual([
      { hook: 'onDead', id: silent.id, peer: 'silent', detail: { at: clock.t0 + INTERVAL * (COUNT + 1), silentFor: INTERVAL * (COUNT + 1), unanswered: COUNT } },
    ]);
    expect(done.filter((c) => c.hook === 'onClose')).toEqual([
      expect.objectContaining({ id: silent.id, peer: 'silent', detail: expect.objectContaining({ dead: true }) }) as HookCall,
    ]);
    expect(done.map((c) => c.hook)).toEqual(['onOpen', 'onOpen', 'onDead', 'onClose']);
    expect(silent.frames).toEqual(Array(COUNT).fill('keepalive:PING'));
    expect(await owed(stub, 'hooks')).toEqual([]);
    expect(alive.isClosed).toBe(false);
    alive.ws.close(1000, 'done');
  }, 60_000);
});

describe('sessions', () => {
  it('a peer that reconnects with its session secret resumes the same connection: one onOpen, presence unbroken', async () => {
    const hub = `hooks-session-${crypto.randomUUID()}`;
    const stub = hubStub(hub);
    const secret = 'gina-session-secret-0123456789';
    const first = await connect(hub, `?name=gina&session=${secret}`);
    first.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await calls(stub)).map((c) => c.hook)).toEqual(['onOpen']));
    // Our client closes with 4000 after declaring the server dead: no goodbye, so the connection waits.
    first.ws.close(4000, 'server declared dead');
    await first.closed;
    const again = await connect(hub, `?name=gina&session=${secret}`);
    expect(again.id).toBe(first.id);
    // Taken while it is attached: refused.
    const thief = await exports.default.fetch(`http://hub.test/connect/${hub}?session=${secret}`, { headers: { Upgrade: 'websocket' } });
    expect(thief.status).toBe(409);
    again.ws.send('still here');
    await again.frameCount(1);
    expect(again.frames).toEqual(['echo:still here']);
    const presence = (await (await exports.default.fetch(`http://hub.test/presence/${hub}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { peer: string; connection: string }[];
    expect(presence).toEqual([expect.objectContaining({ peer: 'gina', connection: first.id })]);
    expect((await calls(stub)).map((c) => c.hook)).toEqual(['onOpen', 'onMessage']);
    // A goodbye (1000) ends it.
    again.ws.close(1000, 'bye');
    await eventually(async () => expect((await calls(stub)).map((c) => c.hook)).toEqual(['onOpen', 'onMessage', 'onClose']));
  });
});

describe('webhooks from a Durable Object', () => {
  it('a receiver down across an eviction gets every event after it, signed, with stable ids', async () => {
    const hub = `hooks-webhook-${crypto.randomUUID()}`;
    const stub = hubStub(hub);
    await control(hub, { down: true });
    const peer = await connect(hub, '?name=dave');
    peer.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await calls(stub)).map((c) => c.hook)).toEqual(['onOpen']));
    peer.ws.close(1000, 'leaving');
    await eventually(async () => {
      expect((await owedInside(stub)).map((r) => r.event.type).sort()).toEqual(['closed', 'open']);
    });
    // Tries fail while it is down (connections cut)...
    await eventually(async () => {
      expect((await owedInside(stub)).some((r) => r.attempts >= 1)).toBe(true);
    });
    // The platform evicts an object between events; vitest refuses while a retry's request is
    // in flight ("active references"), so it is asked again until it finds the object between tries.
    await evictBetweenEvents(stub);
    // ...and after the eviction, once it is back, the rebuilt object's alarm delivers them.
    await control(hub, { down: false, fail: 1 });
    await calls(stub);
    const down = Date.now();
    // The next try is where the backoff (doubling from 1 s) has got to: a few seconds.
    await eventually(async () => expect(await owedInside(stub)).toEqual([]), 45_000);
    console.log(`webhook: delivered ${Date.now() - down} ms after the receiver came back`);
    const got = await received(hub);
    const delivered = got.filter((r) => r.status === 200).map((r) => r.event);
    expect(delivered.map((e) => e.type)).toEqual(['open', 'closed']);
    expect(delivered.map((e) => e.id)).toEqual([`${peer.id}:open`, `${peer.id}:closed`]);
    expect(delivered[1]).toMatchObject({ hub, connection: peer.id, peer: 'dave', reason: 'peer closed: leaving', dead: false });
    // The one refused try (503) and the delivery carried the same id.
    expect(got.filter((r) => r.status === 503).map((r) => r.event.id)).toEqual([`${peer.id}:open`]);
    expect(got.every((r) => r.signed)).toBe(true);
  }, 90_000);
});
