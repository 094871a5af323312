/**
 * The Worker's routes: hubs by name, and connection state only behind the token.
 */
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { hubConfig } from '../../../adapters/cloudflare/config.ts';
import type { ConnectionView } from '../../../runtime/host/types.ts';
import { connect, eventually, get, hubStub, stats, TOKEN, view, withEnv } from './helpers.ts';

const bearer = { headers: { Authorization: `Bearer ${TOKEN}` } };

describe('Worker routes', () => {
  it('answers /healthz without waking any object', async () => {
    const response = await get('/healthz');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, runtime: 'cloudflare-workers' });
  });

  it('refuses /connect without a WebSocket upgrade, bad hub names and unknown codecs', async () => {
    expect((await get('/connect/x')).status).toBe(426);
    expect((await get('/connect/a%20b', { headers: { Upgrade: 'websocket' } })).status).toBe(400);
    expect((await get(`/connect/${'h'.repeat(65)}`, { headers: { Upgrade: 'websocket' } })).status).toBe(400);
    const codec = await get('/connect/x?codec=json', { headers: { Upgrade: 'websocket' } });
    expect(codec.status).toBe(400);
    expect(await codec.json()).toEqual({ error: 'unknown codec "json": use text (default) or libvirt' });
  });

  it('a hub of one shard (the default) ignores a shard named by the client: plain ids, no retirement', async () => {
    const hub = `one-shard-${crypto.randomUUID()}`;
    const response = await get(`/connect/${hub}`, { headers: { Upgrade: 'websocket', 'x-keepalive-shard': '3' } });
    expect(response.status).toBe(101);
    const ws = response.webSocket!;
    ws.accept();
    expect(response.headers.get('x-keepalive-connection')).toMatch(/^[\w-]{21}$/);
    // Sent to the object directly too (only the Worker and sibling shards can): still shard 0.
    const direct = await hubStub(hub).fetch('http://hub.test/connect', { headers: { Upgrade: 'websocket', 'x-keepalive-shard': '3' } });
    expect(direct.headers.get('x-keepalive-connection')).toMatch(/^[\w-]{21}$/);
    direct.webSocket!.accept();
    expect(hubConfig({}).shards).toBe(1);
    ws.close(1000, 'done');
    direct.webSocket!.close(1000, 'done');
  });

  it('lists a hub\'s connections at /actors/<hub> with the token only, and only that hub\'s', async () => {
    const a = await connect('routes-a');
    const b = await connect('routes-b');
    a.ws.send('keepalive:ADVERTISE');
    await eventually(async () => expect((await view(hubStub('routes-a'), a.id))?.advertised).toBe(true));

    expect((await get('/actors/routes-a')).status).toBe(401);
    expect((await get('/actors/routes-a', { headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
    const listed = (await (await get('/actors/routes-a', bearer)).json()) as ConnectionView[];
    expect(listed.map((v) => [v.id, v.state])).toEqual([[a.id, 'alive.watching']]);
    const other = (await (await get(`/actors/routes-b?token=${TOKEN}`)).json()) as ConnectionView[];
    expect(other.map((v) => v.id)).toEqual([b.id]);

    const s = await (await get('/stats/routes-a', bearer)).json();
    expect(s).toMatchObject({ connections: 1, wakes: { messages: 1 } });
    expect((await get('/stats/routes-a')).status).toBe(401);
    a.ws.close(1000, 'done');
    b.ws.close(1000, 'done');
  });

  it('serves the default hub at /connect and /actors', async () => {
    const peer = await connect('default');
    const response = await exports.default.fetch('http://hub.test/connect', { headers: { Upgrade: 'websocket' } });
    expect(response.status).toBe(101);
    response.webSocket!.accept();
    const listed = (await (await get('/actors', bearer)).json()) as ConnectionView[];
    expect(listed.map((v) => v.id)).toContain(peer.id);
    expect(listed).toHaveLength(2);
    response.webSocket!.close(1000, 'done');
    peer.ws.close(1000, 'done');
    await eventually(async () => expect((await stats(hubStub('default'))).connections).toBe(0));
  });

  it('refuses /actors and /stats outright when no token is configured, so a deployment is never open by default', async () => {
    for (const token of [undefined, '']) {
      for (const path of ['/actors', '/actors/x', '/stats/x']) {
        const response = await withEnv({ KEEPALIVE_TOKEN: token }, path);
        expect(response.status).toBe(403);
        expect(await response.json()).toEqual({ error: 'this route is off: set the KEEPALIVE_TOKEN secret to enable it' });
      }
    }
    expect((await withEnv({ KEEPALIVE_TOKEN: 's3cret' }, '/actors/x', { headers: { Authorization: 'Bearer s3cret' } })).status).toBe(200);
  });

  it('gives a peer interval * (count + 1) to ADVERTISE unless KEEPALIVE_ADVERTISE_TIMEOUT says otherwise ("0": never)', () => {
    const base = { KEEPALIVE_INTERVAL: '2000', KEEPALIVE_COUNT: '4' };
    expect(hubConfig(base).settings.advertiseTimeout).toBe(10_000);
    expect(hubConfig({ ...base, KEEPALIVE_ADVERTISE_TIMEOUT: '' }).settings.advertiseTimeout).toBe(10_000);
    expect(hubConfig({ ...base, KEEPALIVE_ADVERTISE_TIMEOUT: '2500' }).settings.advertiseTimeout).toBe(2500);
    expect(hubConfig({ ...base, KEEPALIVE_ADVERTISE_TIMEOUT: '0' }).settings.advertiseTimeout).toBeNull();
    expect(hubConfig({}).settings.advertiseTimeout).toBe(30_000);
  });

  it.each([
    [{ KEEPALIVE_INTERVAL: 'soon' }, 'KEEPALIVE_INTERVAL must be a number >= 1, got "soon"'],
    [{ KEEPALIVE_COUNT: '2.5' }, 'KEEPALIVE_COUNT must be a whole number >= 0, got "2.5"'],
    [{ KEEPALIVE_SEND_PINGS: 'maybe' }, 'KEEPALIVE_SEND_PINGS must be true or false, got "maybe"'],
    [{ KEEPALIVE_MAX_CONNECTIONS: '0' }, 'KEEPALIVE_MAX_CONNECTIONS must be a whole number >= 1, got "0"'],
    [{ KEEPALIVE_ALARM_SLACK: '-1' }, 'KEEPALIVE_ALARM_SLACK must be a number >= 0, got "-1"'],
    [{ KEEPALIVE_ADVERTISE_TIMEOUT: 'never' }, 'KEEPALIVE_ADVERTISE_TIMEOUT must be a whole number >= 0, got "never"'],
  ] as const)('says which var is wrong (%o) instead of failing obscurely', async (vars, error) => {
    const response = await withEnv(vars, '/connect/x', { headers: { Upgrade: 'websocket' } });
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error });
  });
});
