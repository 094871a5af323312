/**
 * `/metrics` on the real `deno` binary and in workerd (`wrangler dev`), after the same
 * scenario as on Node: a peer that answers our PINGs, and one that advertises and goes
 * silent until it is declared dead. Read with a real Prometheus text parser. The Deno
 * server also runs with `--log json`: every line of its output parses.
 */
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import { spawnDeno } from '../deno/helpers.ts';
import { killAll, until, withUrls } from '../node/helpers.ts';
import { startWranglerDev, type WranglerDev } from '../support/wrangler-dev.ts';
import { scrape, value } from '../support/metrics.ts';
import { WebhookReceiver } from '../support/webhook-receiver.ts';

const INTERVAL = 300;
const COUNT = 1;
const TOKEN = 'metrics-token';
let dev: WranglerDev | undefined;
const receivers: WebhookReceiver[] = [];

afterAll(async () => {
  killAll();
  await dev?.stop();
  for (const receiver of receivers) await receiver.stop();
});

/** A webhook receiver that fails the first two requests, as in the Node scenario. */
async function failingTwice(): Promise<WebhookReceiver> {
  const receiver = await new WebhookReceiver({ answer: (n) => (n <= 2 ? 500 : 200) }).start();
  receivers.push(receiver);
  return receiver;
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
    const receiver = await failingTwice();
    const server = await withUrls(
      spawnDeno(['serve', '--port', '0', '--tcp-port', '0', '--interval', String(INTERVAL), '--count', String(COUNT), '--log', 'json', '--webhook', receiver.url, '--webhook-retry', '20']),
    );
    const ws = /ws:\/\/[^\s"]+/.exec(server.stdout.find((l) => l.includes('WebSocket'))!)![0];
    const http = ws.replace('ws://', 'http://').replace(/\/connect$/, '');
    const answering = await scenario(ws);
    const m = await until(async () => {
      const m = await scrape(`${http}/metrics`);
      return value(m, 'keepalive_peers_dead_total') === 1 && Number(m.get('keepalive_ping_rtt_seconds')!.metrics[0]!.count) >= 2 && value(m, 'keepalive_webhook_deliveries_total') === 4 && m;
    }, 'a death, two round trips and four webhook deliveries');
    expect(value(m, 'keepalive_webhook_failures_total')).toBe(2);
    expect(value(m, 'keepalive_outbox_events')).toBe(0);
    expect(receiver.delivered.map((event) => event.type).sort()).toEqual(['closed', 'dead', 'open', 'open']);
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
    const receiver = await failingTwice();
    dev = await startWranglerDev(
      { KEEPALIVE_INTERVAL: String(INTERVAL), KEEPALIVE_COUNT: String(COUNT), KEEPALIVE_WEBHOOK: receiver.url, KEEPALIVE_WEBHOOK_RETRY_MS: '20' },
      { KEEPALIVE_TOKEN: TOKEN },
    );
    expect((await fetch(`${dev.base}/metrics/room`)).status).toBe(401);
    const answering = await scenario(`${dev.base.replace('http', 'ws')}/connect/room`);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const m = await until(async () => {
      const m = await scrape(`${dev!.base}/metrics/room`, auth).catch(() => undefined);
      return m && value(m, 'keepalive_peers_dead_total') === 1 && value(m, 'keepalive_webhook_deliveries_total') === 4 && m;
    }, 'a death and four webhook deliveries in the object', 20_000);
    expect(value(m, 'keepalive_webhook_failures_total')).toBe(2);
    expect(value(m, 'keepalive_outbox_events')).toBe(0);
    answering.terminate();
    expect(value(m, 'keepalive_connections', { transport: 'websocket', codec: 'text' })).toBe(1);
    expect(value(m, 'keepalive_connections_opened_total')).toBe(2);
    expect(value(m, 'keepalive_connections_closed_total', { reason: 'dead' })).toBe(1);
    expect(value(m, 'keepalive_timer_wakeups_total')).toBeGreaterThan(0);
  }, 60_000);
});
