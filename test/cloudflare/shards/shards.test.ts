/**
 * One hub over four Durable Objects (KEEPALIVE_SHARDS=4), inside real workerd, through the
 * Worker's own routes: where connections land, one presence, one broadcast, sends by id
 * across shards, liveness per shard at the bound, sessions back on their shard, an
 * evicted shard, the merged metrics, the inspector's shard pages, and webhooks.
 */
import { evictDurableObject } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HUB_HEADER } from '../../../adapters/cloudflare/hub.ts';
import { shardName, shardOfId, shardOfSession, shardRequest } from '../../../adapters/cloudflare/shards.ts';
import type { ApplicationEvent } from '../../../runtime/application/events.ts';
import type { PresenceEntry } from '../../../runtime/application/types.ts';
import { COUNT, connect as open, eventually, fakeClock, hubStub, INTERVAL, runAlarm, stored, TOKEN, view, type Peer } from '../workerd/helpers.ts';

const SHARDS = Number(env.KEEPALIVE_SHARDS);
const RECEIVER = (env as unknown as { RECEIVER_URL: string }).RECEIVER_URL;
/** A sharded hub's ids: plain on shard 0 (as an unsharded hub's), `.<shard>` after it on the others. */
const SHARDED_ID = /^[\w-]{21}(\.[1-9]\d?)?$/;
const AUTH = { authorization: `Bearer ${TOKEN}` };

afterEach(() => {
  vi.useRealTimers();
});

const connect = (hub: string, query = '') => open(hub, query, SHARDED_ID);
const shardStub = (hub: string, shard: number) => hubStub(shardName(hub, shard));

async function presence(hub: string): Promise<(PresenceEntry & { shard: number })[]> {
  const response = await exports.default.fetch(`http://hub.test/presence/${hub}`, { headers: AUTH });
  expect(response.status).toBe(200);
  return (await response.json()) as (PresenceEntry & { shard: number })[];
}

/** Opens `n` advertised peers and waits until the hub's presence lists them all alive. */
async function peers(hub: string, n: number): Promise<Peer[]> {
  const all: Peer[] = [];
  for (let i = 0; i < n; i++) all.push(await connect(hub, `?peer=p${i}`));
  for (const peer of all) peer.ws.send('keepalive:ADVERTISE');
  await eventually(async () => expect((await presence(hub)).filter((row) => row.state.startsWith('alive'))).toHaveLength(n));
  return all;
}

const byShard = (ids: readonly string[]) => {
  const counts = new Array<number>(SHARDS).fill(0);
  for (const id of ids) counts[shardOfId(id)]!++;
  return counts;
};

describe('a hub over four Durable Objects', () => {
  it('spreads 40 peers evenly over every shard; the Worker and a hook on any shard see one presence of 40', async () => {
    const hub = `spread-${crypto.randomUUID()}`;
    const all = await peers(hub, 40);
    expect(byShard(all.map((p) => p.id))).toEqual([10, 10, 10, 10]);

    const rows = await presence(hub);
    expect(rows.map((row) => row.connection).sort()).toEqual(all.map((p) => p.id).sort());
    for (const row of rows) expect(row.shard).toBe(shardOfId(row.connection));
    expect(rows.find((row) => row.connection === all[7]!.id)).toMatchObject({ peer: 'p7' });

    // Each shard's /actors rows name it too; the Worker joins them.
    const actors = (await (await exports.default.fetch(`http://hub.test/actors/${hub}`, { headers: AUTH })).json()) as { id: string; shard: number }[];
    expect(actors).toHaveLength(40);
    for (const actor of actors) expect(actor.shard).toBe(shardOfId(actor.id));

    // Hook code: hubPresence() on one shard answers for all of them.
    for (const asker of [all[0]!, all[3]!]) {
      asker.ws.send('who');
      const [answer] = (await asker.frameCount(1)).filter((f) => typeof f === 'string' && f.startsWith('who:')) as string[];
      const seen = JSON.parse(answer!.slice(4)) as PresenceEntry[];
      expect(seen.map((row) => row.connection).sort()).toEqual(all.map((p) => p.id).sort());
      expect(new Set(seen.map((row) => row.shard))).toEqual(new Set([0, 1, 2, 3]));
    }
    for (const peer of all) peer.ws.close(1000, 'done');
  });

  it('a broadcast from a hook on one shard reaches every connection on every shard but the sender; a send by id crosses shards', async () => {
    const hub = `broadcast-${crypto.randomUUID()}`;
    const all = await peers(hub, 40);
    const sender = all.find((p) => shardOfId(p.id) === 2)!;
    sender.ws.send('all:hello everyone');
    await eventually(async () => {
      for (const peer of all) if (peer !== sender) expect(peer.frames).toContain('hello everyone');
    });
    expect(sender.frames).not.toContain('hello everyone');

    // A burst from one hook arrives everywhere in the order it was made; binary frames as bytes.
    for (let i = 0; i < 50; i++) sender.ws.send(`all:burst ${i}`);
    sender.ws.send('bin:bytes across shards');
    const burst = Array.from({ length: 50 }, (_, i) => `burst ${i}`);
    await eventually(async () => {
      for (const peer of all) {
        if (peer === sender) continue;
        expect(peer.frames.filter((f) => typeof f === 'string' && f.startsWith('burst '))).toEqual(burst);
        expect(peer.frames.some((f) => f instanceof Uint8Array && new TextDecoder().decode(f) === 'bytes across shards')).toBe(true);
      }
    });

    // From shard 1 to a connection on shard 3, by its id alone.
    const from = all.find((p) => shardOfId(p.id) === 1)!;
    const to = all.find((p) => shardOfId(p.id) === 3)!;
    from.ws.send(`to:${to.id}:just for you`);
    await eventually(async () => expect(to.frames).toContain('just for you'));
    expect(from.frames).toContain('sent');
    expect(all.filter((p) => p.frames.includes('just for you'))).toEqual([to]);
    // An id that names no shard of this hub is no connection.
    from.ws.send('to:nobody.9:lost');
    await eventually(async () => expect(from.frames).toContain('no such connection'));
    for (const peer of all) peer.ws.close(1000, 'done');
  });

  it('a silent peer on each shard is declared dead at the bound by its shard’s alarm and leaves the hub’s presence; answering peers stay', async () => {
    const clock = fakeClock();
    const hub = `liveness-${crypto.randomUUID()}`;
    const all = await peers(hub, 8);
    const silent = new Set<Peer>();
    for (let shard = 0; shard < SHARDS; shard++) silent.add(all.find((p) => shardOfId(p.id) === shard)!);
    for (const peer of all) {
      if (!silent.has(peer)) peer.ws.addEventListener('message', (event) => event.data === 'keepalive:PING' && peer.ws.send('keepalive:PONG'));
    }
    const bound = INTERVAL * (COUNT + 1);
    for (let k = 1; k <= COUNT + 1; k++) {
      clock.at(k * INTERVAL);
      for (let shard = 0; shard < SHARDS; shard++) expect(await runAlarm(shardStub(hub, shard))).toBe(true);
      // The answers reach their shards before the next alarm (the clock stands still meanwhile).
      await eventually(async () => {
        for (const peer of all) {
          if (silent.has(peer)) continue;
          expect(peer.frames.filter((f) => f === 'keepalive:PING')).toHaveLength(k);
          expect((await view(shardStub(hub, shardOfId(peer.id)), peer.id))?.lastSignOfLife).toBe(clock.t0 + k * INTERVAL);
        }
      });
      // Before the bound every peer is in the hub's presence; the silent ones are probing.
      if (k <= COUNT) expect((await presence(hub)).filter((row) => silent.has(all.find((p) => p.id === row.connection)!) === (row.state === 'alive.probing'))).toHaveLength(8);
    }
    for (const peer of silent) {
      const close = await peer.closed;
      expect(close.code).toBe(4000);
      expect(close.reason).toMatch(new RegExp(`^peer dead: silent for ${bound} ms`));
    }
    const rows = await presence(hub);
    expect(rows.map((row) => row.connection).sort()).toEqual(all.filter((p) => !silent.has(p)).map((p) => p.id).sort());
    for (let shard = 0; shard < SHARDS; shard++) {
      const dead = (await (await shardStub(hub, shard).fetch('http://hub.test/test/dead')).json()) as { id: string; shard: number; silentFor: number; at: number }[];
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({ shard, silentFor: bound, at: clock.t0 + bound });
    }
    for (const peer of all) if (!silent.has(peer)) peer.ws.close(1000, 'done');
  });

  it('a session comes back to the shard that holds it, as the same connection', async () => {
    const hub = `session-${crypto.randomUUID()}`;
    const secrets = Array.from({ length: 8 }, (_, i) => `shard-session-secret-${i}-${crypto.randomUUID().slice(0, 8)}`);
    const first: Peer[] = [];
    for (const secret of secrets) {
      const peer = await connect(hub, `?peer=s&session=${secret}`);
      expect(shardOfId(peer.id)).toBe(await shardOfSession(secret, SHARDS));
      peer.ws.send('keepalive:ADVERTISE');
      first.push(peer);
    }
    await eventually(async () => expect(await presence(hub)).toHaveLength(secrets.length));
    // Dropped without a goodbye (our client's 4000), then back with the same secret.
    for (const peer of first) peer.ws.close(4000, 'server declared dead');
    for (const peer of first) await peer.closed;
    for (const [i, secret] of secrets.entries()) {
      const again = await connect(hub, `?peer=s&session=${secret}`);
      expect(again.id).toBe(first[i]!.id);
      again.ws.close(1000, 'bye');
    }
    await eventually(async () => expect(await presence(hub)).toHaveLength(0));
  });

  it('an evicted shard loses nothing: presence, broadcasts both ways and its own peers carry on', async () => {
    const hub = `evict-${crypto.randomUUID()}`;
    const all = await peers(hub, 16);
    const before = await presence(hub);
    await evictDurableObject(shardStub(hub, 2));
    const after = await presence(hub);
    expect(after.map((row) => [row.connection, row.peer, row.shard]).sort()).toEqual(before.map((row) => [row.connection, row.peer, row.shard]).sort());

    const onTwo = all.filter((p) => shardOfId(p.id) === 2);
    onTwo[0]!.ws.send('all:from the rebuilt shard');
    all.find((p) => shardOfId(p.id) === 0)!.ws.send('all:to the rebuilt shard');
    await eventually(async () => {
      for (const peer of all) if (peer !== onTwo[0]) expect(peer.frames).toContain('from the rebuilt shard');
      for (const peer of onTwo) expect(peer.frames).toContain('to the rebuilt shard');
    });
    for (const peer of all) peer.ws.close(1000, 'done');
  });

  it('webhooks carry the hub’s name and the same stable ids from every shard', async () => {
    const hub = `webhook-${crypto.randomUUID()}`;
    const all = await peers(hub, 8);
    for (const peer of all) peer.ws.close(1000, 'done');
    await eventually(async () => {
      const received = (await (await fetch(`${RECEIVER}/received/${hub}`)).json()) as { event: ApplicationEvent; signed: boolean }[];
      const ids = received.filter((r) => r.signed).map((r) => r.event.id);
      expect(new Set(ids)).toEqual(new Set(all.flatMap((p) => [`${p.id}:open`, `${p.id}:closed`])));
      for (const { event } of received) expect(event.hub).toBe(hub);
    });
  });

  it('merges every shard’s metrics into one scrape, each series labelled with its shard; lists each shard’s stats', async () => {
    const hub = `metrics-${crypto.randomUUID()}`;
    const all = await peers(hub, 8);
    const response = await exports.default.fetch(`http://hub.test/metrics/${hub}`, { headers: AUTH });
    expect(response.status).toBe(200);
    const text = await response.text();
    const opened = text.split('\n').filter((line) => line.startsWith('keepalive_connections_opened_total'));
    expect(opened.map((line) => /^keepalive_connections_opened_total\{shard="(\d)"\} 2$/.exec(line)?.[1]).sort()).toEqual(['0', '1', '2', '3']);
    // One header per family however many shards answered.
    expect(text.split('\n').filter((line) => line === '# TYPE keepalive_connections_opened_total counter')).toHaveLength(1);
    expect(text).toMatch(/^keepalive_connections\{shard="3",transport="websocket",codec="text"\} 2$/m);

    const stats = (await (await exports.default.fetch(`http://hub.test/stats/${hub}`, { headers: AUTH })).json()) as { shards: { shard: number; connections: number }[] };
    expect(stats.shards.map((s) => [s.shard, s.connections])).toEqual([
      [0, 2],
      [1, 2],
      [2, 2],
      [3, 2],
    ]);
    expect((await exports.default.fetch(`http://hub.test/metrics/${hub}`)).status).toBe(401);
    for (const peer of all) peer.ws.close(1000, 'done');
  });

  it('a shard past KEEPALIVE_SHARDS (the number went down) ends its connections as a restart (1012) when it next wakes', async () => {
    const hub = `retired-${crypto.randomUUID()}`;
    // Shard 5 of this hub was live when the hub had more shards: it holds an advertised peer.
    const stub = shardStub(hub, 5);
    const response = await stub.fetch(shardRequest('http://hub.test/connect', hub, 5, HUB_HEADER, { headers: { Upgrade: 'websocket' } }));
    expect(response.status).toBe(101);
    const ws = response.webSocket!;
    ws.accept();
    const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener('close', resolve));
    ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect(await view(stub, response.headers.get('x-keepalive-connection')!)).toMatchObject({ advertised: true }));
    expect(response.headers.get('x-keepalive-connection')).toMatch(/\.5$/);
    // Rebuilt (as after the deploy that lowered the number), at its next wake-up: the rebuild
    // ends the connection, and with it the alarm that woke it.
    await evictDurableObject(stub);
    await runAlarm(stub);
    const close = await closed;
    expect(close.code).toBe(1012);
    expect(close.reason).toBe(`server restarting: shard 5 retired (KEEPALIVE_SHARDS is ${SHARDS})`);
    expect((await stored(stub)).ids).toEqual([]);
  });

  it('the inspector has a page per shard, each linking every shard’s', async () => {
    const hub = `inspect-${crypto.randomUUID()}`;
    await peers(hub, 4);
    const hubPage = await exports.default.fetch(`http://hub.test/inspect/${hub}?token=${TOKEN}`, { redirect: 'manual' });
    expect(hubPage.status).toBe(302);
    expect(hubPage.headers.get('location')).toBe(`/inspect/${hub}/0?token=${TOKEN}`);
    const page = await (await exports.default.fetch(`http://hub.test/inspect/${hub}/2?token=${TOKEN}`)).text();
    const nav = /<nav[^>]*data-testid="shards"[^>]*>(.*?)<\/nav>/s.exec(page)![1]!;
    expect([...nav.matchAll(/href="(\d)\?token=/g)].map((m) => m[1])).toEqual(['0', '1', '2', '3']);
    expect(nav).toContain('<a href="2?token=test-token" aria-current="page">2</a>');
    expect(page).toContain(`/inspect/${hub}/2/events`);
    expect((await exports.default.fetch(`http://hub.test/inspect/${hub}/4?token=${TOKEN}`)).status).toBe(404);
    expect((await exports.default.fetch(`http://hub.test/inspect/${hub}/1`)).status).toBe(401);
  });
});
