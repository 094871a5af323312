/**
 * Smoke test: `wrangler dev` as a user runs it (local workerd, offline: no login, no
 * telemetry), driven by the Node client over a real loopback socket. wrangler runs in
 * its own process group, and the whole group is killed afterwards.
 *
 * Server vars: interval 500 ms, count 1, so a silent peer dies about 1 s after its last
 * frame. The token comes from an env file, as a user's `.dev.vars` secret would (wrangler
 * prints it as hidden). Tolerances: 20 s for anything to happen over the socket, 90 s to start.
 */
import { once } from 'node:events';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../adapters/node/client.ts';
import type { ConnectionView } from '../../runtime/host/types.ts';
import { nextEvent } from '../support/client-events.ts';
import { startWranglerDev, type WranglerDev } from '../support/wrangler-dev.ts';

const TOKEN = 'smoke-token';

let dev: WranglerDev;
let base = '';
const until = <T>(check: () => T | undefined | Promise<T | undefined>, what: string, timeout = 20_000): Promise<T> => dev.until(check, what, timeout);

const json = async <T>(path: string): Promise<T> => (await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json() as Promise<T>;

beforeAll(async () => {
  dev = await startWranglerDev({ KEEPALIVE_INTERVAL: '500', KEEPALIVE_COUNT: '1', KEEPALIVE_COUNT_WAKES: 'true' }, { KEEPALIVE_TOKEN: TOKEN });
  base = dev.base;
});

afterAll(async () => {
  await dev?.stop();
});

describe('wrangler dev serves the same protocol as npm start', () => {
  it('keeps the Node client alive on PINGs the platform answers, then forgets it after a clean close', async () => {
    const client = connect(`ws://127.0.0.1:${base.split(':')[2]}/connect/smoke`, { interval: 200, count: 2, reconnect: false });
    const pongs: number[] = [];
    let dead: string | null = null;
    client.addEventListener('received', ({ message, at }) => message === 'PONG' && pongs.push(at));
    client.addEventListener('dead', ({ reason }) => (dead = reason));
    await nextEvent(client, 'open');
    // Ten PONGs take about 2 s: twice as long as the server lets a silent peer live.
    await until(() => (pongs.length >= 10 ? true : undefined), '10 PONGs');
    expect(dead).toBeNull();
    expect(client.readyState).toBe(1);

    const [actor] = await json<ConnectionView[]>('/actors/smoke');
    expect(actor).toMatchObject({ state: 'alive.watching', advertised: true, pingsSent: 0, pongsSent: expect.any(Number) });
    const stats = await json<{ wakes: { messages: number; pings: number } }>('/stats/smoke');
    // The ADVERTISE was the one delivery; every PING was answered without waking the object.
    expect(stats.wakes).toMatchObject({ messages: 1, pings: 0 });

    const closed = nextEvent(client, 'close');
    client.close(1000, 'smoke test done');
    const { reason, wasClean } = await closed;
    expect([reason, wasClean]).toEqual(['smoke test done', true]);
    await until(async () => ((await json<ConnectionView[]>('/actors/smoke')).length === 0 ? true : undefined), 'an empty hub');
  });

  it('declares a silent peer dead and closes its socket with the reason', async () => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/connect/smoke-silent`);
    const frames: string[] = [];
    ws.on('message', (data) => frames.push(data.toString()));
    await once(ws, 'open');
    const openedAt = Date.now();
    ws.send('keepalive:ADVERTISE');
    const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
    expect(code).toBe(4000);
    expect(reason.toString()).toMatch(/^peer dead: silent for \d+ ms, 1 keepalive PING\(s\) unanswered$/);
    expect(frames).toEqual(['keepalive:PING']);
    // interval * (count + 1) = 1 s after the ADVERTISE, give or take the alarm's delivery.
    expect(Date.now() - openedAt).toBeGreaterThanOrEqual(950);
  });

  it('keeps /actors and /inspect closed without the token', async () => {
    expect((await fetch(`${base}/actors/smoke`)).status).toBe(401);
    expect((await fetch(`${base}/inspect/smoke`)).status).toBe(401);
  });

  it('serves a hub\'s inspector with the token, its stream under the hub, and never prints the token', async () => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/connect/smoke-inspected`);
    await once(ws, 'open');
    ws.send('keepalive:ADVERTISE');
    const page = await fetch(`${base}/inspect/smoke-inspected?token=${TOKEN}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('keepalive inspector');
    const events = (JSON.parse(/id="inspector-config">(.*?)<\/script>/.exec(html)![1]!) as { events: string }).events;
    expect(events).toBe(`/inspect/smoke-inspected/events?token=${TOKEN}`);

    const stream = await fetch(`${base}${events}`);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const reader = stream.body!.getReader();
    let text = '';
    await until(async () => {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended early: ${text}`);
      text += new TextDecoder().decode(value);
      return text.includes('\n\n') ? true : undefined;
    }, 'the snapshot');
    expect(text).toMatch(/^event: snapshot\n/);
    expect(text).toContain('"state":"alive.watching"');
    await reader.cancel();
    ws.close(1000, 'done');
    // wrangler logs each request's path without its query, and the secret as hidden.
    await until(() => (/GET \/inspect\/smoke-inspected\/events /.test(dev.output.join('')) ? true : undefined), 'the stream in the log');
    expect(dev.output.join('')).not.toContain(TOKEN);
  });
});
