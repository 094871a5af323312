/**
 * `/metrics` on the real `deno` binary and in workerd (`wrangler dev`), after the same
 * scenario as on Node: a peer that answers our PINGs, and one that advertises and goes
 * silent until it is declared dead. Read with a real Prometheus text parser. The Deno
 * server also runs with `--log json`: every line of its output parses.
 */
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { TEXT_FRAMES } from '../../runtime/internal.ts';
import { spawnDeno } from '../deno/helpers.ts';
import { killAll, withUrls } from '../node/helpers.ts';
import { startWranglerDev, type WranglerDev } from '../support/wrangler-dev.ts';
import { scrape, value } from '../support/metrics.ts';

const INTERVAL = 300;
const COUNT = 1;
const TOKEN = 'metrics-token';
let dev: WranglerDev | undefined;

afterAll(async () => {
  killAll();
  await dev?.stop();
});

async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeout = 10_000): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const result = await check();
    if (result !== undefined && result !== false) return result;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** One peer that answers every PING, one that advertises and then says nothing. */
async function scenario(connectUrl: string): Promise<WebSocket> {
  const answering = new WebSocket(`${connectUrl}?peer=answers`);
  answering.on('message', (data) => data.toString() === TEXT_FRAMES.PING && answering.send(TEXT_FRAMES.PONG));
  const silent = new WebSocket(`${connectUrl}?peer=silent`);
  for (const ws of [answering, silent]) {
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(TEXT_FRAMES.ADVERTISE);
  }
  return answering;
}

describe('/metrics on other runtimes', () => {
  it('deno: counts the answered PINGs and the death; --log json lines all parse', async () => {
    const server = await withUrls(spawnDeno(['serve', '--port', '0', '--tcp-port', '0', '--interval', String(INTERVAL), '--count', String(COUNT), '--log', 'json']));
    const ws = /ws:\/\/[^\s"]+/.exec(server.stdout.find((l) => l.includes('WebSocket'))!)![0];
    const http = ws.replace('ws://', 'http://').replace(/\/connect$/, '');
    const answering = await scenario(ws);
    const m = await until(async () => {
      const m = await scrape(`${http}/metrics`);
      return value(m, 'keepalive_peers_dead_total') === 1 && Number(m.get('keepalive_ping_rtt_seconds')!.metrics[0]!.count) >= 2 && m;
    }, 'a death and two round trips');
    answering.terminate();
    expect(value(m, 'keepalive_connections', { transport: 'websocket', codec: 'text' })).toBe(1);
    expect(value(m, 'keepalive_connections_opened_total')).toBe(2);
    expect(value(m, 'keepalive_connections_closed_total', { reason: 'dead' })).toBe(1);
    expect(value(m, 'keepalive_timer_wakeups_total')).toBeGreaterThan(0);
    const dead = server.stdout.filter((l) => l.includes('"event":"dead"'));
    expect(dead).toHaveLength(1);
    expect(JSON.parse(dead[0]!)).toMatchObject({ event: 'dead', peer: 'silent', unanswered: COUNT });
    for (const line of server.stdout.filter((l) => l.trim() !== '')) expect(() => JSON.parse(line), line).not.toThrow();
  }, 30_000);

  it('workerd: /metrics/<hub> behind the token counts the same', async () => {
    dev = await startWranglerDev({ KEEPALIVE_INTERVAL: String(INTERVAL), KEEPALIVE_COUNT: String(COUNT) }, { KEEPALIVE_TOKEN: TOKEN });
    expect((await fetch(`${dev.base}/metrics/room`)).status).toBe(401);
    const answering = await scenario(`${dev.base.replace('http', 'ws')}/connect/room`);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const m = await until(async () => {
      const m = await scrape(`${dev!.base}/metrics/room`, auth).catch(() => undefined);
      return m && value(m, 'keepalive_peers_dead_total') === 1 && m;
    }, 'a death in the object', 20_000);
    answering.terminate();
    expect(value(m, 'keepalive_connections', { transport: 'websocket', codec: 'text' })).toBe(1);
    expect(value(m, 'keepalive_connections_opened_total')).toBe(2);
    expect(value(m, 'keepalive_connections_closed_total', { reason: 'dead' })).toBe(1);
    expect(value(m, 'keepalive_timer_wakeups_total')).toBeGreaterThan(0);
  }, 60_000);
});
