/**
 * Presence for peers in the real Durable Object (workerd, `KEEPALIVE_PRESENCE` on): a sync on
 * subscribe, one entry per peer, states; an eviction that is no leave and no join, with the
 * states kept in storage; a silent peer leaving at its alarm's verdict. Frames travel for
 * real; the test waits for them.
 */
import { evictDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PresenceFrame } from '../../../runtime/protocol/index.ts';
import { COUNT, connect, eventually, fakeClock, hubStub, INTERVAL, runAlarm, type Peer } from './helpers.ts';

afterEach(() => {
  vi.useRealTimers();
});

const presence = (peer: Peer): PresenceFrame[] =>
  peer.frames.flatMap((frame) => (typeof frame === 'string' && frame.startsWith('keepalive:PRESENCE ') ? [JSON.parse(frame.slice(19)) as PresenceFrame] : []));

describe('presence for peers in a Durable Object', () => {
  it('syncs, joins a peer once with both its connections, keeps its state across an eviction, and leaves a dead peer at its verdict', async () => {
    const clock = fakeClock();
    const hub = 'presence-do';
    const stub = hubStub(hub);
    const watcher = await connect(hub, '?presence=1&peer=watcher');
    watcher.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect(presence(watcher)[0]).toEqual({ sync: [], you: watcher.id }));
    const ada1 = await connect(hub, '?presence=1&peer=ada');
    const ada2 = await connect(hub, '?peer=ada');
    for (const peer of [ada1, ada2]) peer.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect(presence(watcher).flatMap((f) => f.join ?? []).find((e) => e.peer === 'ada')?.connections).toHaveLength(2));
    await eventually(async () => expect(presence(ada1)[0]?.sync).toBeDefined());
    ada1.ws.send('keepalive:PRESENCE-SET {"typing":true}');
    await eventually(async () => expect(presence(watcher).at(-1)?.update?.[0]).toMatchObject({ peer: 'ada', state: { typing: true } }));

    // Evicted: a new instance lists the same peers with the same states, and tells nobody anything new.
    await evictDurableObject(stub);
    const seen = presence(watcher).length;
    const bob = await connect(hub, '?peer=bob');
    bob.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect(presence(watcher).slice(seen)).toEqual([{ join: [{ peer: 'bob', state: null, connections: [{ id: bob.id }] }] }]));
    ada2.ws.close(1000, 'bye');
    await eventually(async () => expect(presence(watcher).at(-1)).toEqual({ update: [{ peer: 'ada', state: { typing: true }, connections: [{ id: ada1.id }] }] }));

    // bob goes silent; everyone else answers: its alarm's verdict is its leave.
    for (let k = 1; k <= COUNT + 1; k++) {
      clock.at(k * INTERVAL);
      for (const peer of [watcher, ada1]) peer.ws.send('keepalive:PONG');
      await runAlarm(stub);
    }
    await bob.closed;
    await eventually(async () => expect(presence(watcher).at(-1)).toEqual({ leave: [{ peer: 'bob' }] }));
    expect(presence(watcher).flatMap((f) => f.leave ?? [])).toEqual([{ peer: 'bob' }]);
    expect(presence(watcher).flatMap((f) => f.join ?? []).map((e) => e.peer).sort()).toEqual(['ada', 'bob', 'watcher']);
  });
});
