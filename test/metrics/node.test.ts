/**
 * `GET /metrics` and `--log json` on Node, after a scripted scenario: a peer that answers
 * our PINGs, one that goes silent and is declared dead, and a webhook receiver that fails
 * twice. The scrape is read with a real Prometheus text parser; every counter and
 * histogram count equals what happened.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import { connect } from '../../adapters/node/client.ts';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import type { KeepaliveClient } from '../../runtime/client/keepalive-client.ts';
import { killAll, spawnServer, until } from '../node/helpers.ts';
import { nextEvent } from '../support/client-events.ts';
import { WebhookReceiver } from '../support/webhook-receiver.ts';
import { scrape, value } from '../support/metrics.ts';

const INTERVAL = 200;
const COUNT = 1;

let server: RunningServer;
let receiver: WebhookReceiver;
let answering: KeepaliveClient;

beforeAll(async () => {
  receiver = await new WebhookReceiver({ answer: (n) => (n <= 2 ? 500 : 200) }).start();
  server = await startServer({
    port: 0,
    tcpPort: null,
    interval: INTERVAL,
    count: COUNT,
    webhook: { url: receiver.url, retry: { min: 20, max: 40 } },
    hooks: {
      onDead: () => {},
      onMessage: () => {
        throw new Error('a hook that fails');
      },
    },
  });
});

afterAll(async () => {
  answering?.close();
  await server?.close();
  await receiver?.stop();
  killAll();
});

describe('/metrics on Node', () => {
  it('counts what happened: opens, a death, PING round trips, wake-ups, webhook retries', async () => {
    answering = connect(server.wsUrl, { peer: 'answers', sendPings: false, reconnect: false });
    await nextEvent(answering, 'open');
    // A peer that advertises, then never says anything again.
    const silent = new WebSocket(`${server.wsUrl}?peer=silent`);
    await new Promise((resolve) => silent.once('open', resolve));
    silent.send(TEXT_FRAMES.ADVERTISE);
    await until(() => server.hub.presence().length === 1 && receiver.delivered.length === 4, 'the death and four webhook deliveries', 10_000);
    silent.terminate();

    const m = await scrape(`${server.url}/metrics`);
    expect(value(m, 'keepalive_connections', { transport: 'websocket', codec: 'text' })).toBe(1);
    expect(value(m, 'keepalive_connections_opened_total')).toBe(2);
    expect(value(m, 'keepalive_connections_closed_total', { reason: 'dead' })).toBe(1);
    expect(value(m, 'keepalive_peers_dead_total')).toBe(1);
    const unanswered = m.get('keepalive_unanswered_pings_at_death')!.metrics[0]!;
    expect(Number(unanswered.count)).toBe(1);
    expect(Number(unanswered.sum)).toBe(COUNT);
    const rtt = m.get('keepalive_ping_rtt_seconds')!.metrics[0]!;
    // The answering peer answered every PING of ours: one round trip each.
    const pings = server.host.list()[0]!.pingsSent;
    expect(Number(rtt.count)).toBeGreaterThanOrEqual(pings - 1);
    expect(Number(rtt.count)).toBeLessThanOrEqual(pings);
    expect(Number(rtt.count)).toBeGreaterThan(0);
    expect(value(m, 'keepalive_statechart_steps_total')).toBe(server.host.stats.steps);
    expect(value(m, 'keepalive_timer_wakeups_total')).toBeGreaterThan(0);
    expect(value(m, 'keepalive_webhook_failures_total')).toBe(2);
    expect(value(m, 'keepalive_webhook_deliveries_total')).toBe(4);
    expect(value(m, 'keepalive_outbox_events')).toBe(0);
    expect(value(m, 'keepalive_outbox_oldest_age_seconds')).toBe(0);
    expect(value(m, 'keepalive_hook_calls_total', { hook: 'onDead' })).toBe(1);
    expect(value(m, 'keepalive_hook_errors_total', { hook: 'onDead' })).toBe(0);
    // The parser keeps only the buckets of a labelled histogram: its count is read from the text.
    expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/^keepalive_hook_duration_seconds_count\{hook="onDead"\} 1$/m);
    answering.send('hello');
    await until(async () => value(await scrape(`${server.url}/metrics`), 'keepalive_hook_errors_total', { hook: 'onMessage' }) === 1, 'the failed onMessage counted', 5000);
  });

  it('is private off loopback and behind a token, as /actors is', async () => {
    const open = await startServer({ port: 0, tcpPort: null, host: '0.0.0.0', inspector: false });
    const guarded = await startServer({ port: 0, tcpPort: null, token: 'metrics-token', inspector: false });
    try {
      expect((await fetch(`http://127.0.0.1:${open.port}/metrics`)).status).toBe(403);
      expect((await fetch(`${guarded.url}/metrics`)).status).toBe(401);
      const m = await scrape(`${guarded.url}/metrics`, { authorization: 'Bearer metrics-token' });
      expect(value(m, 'keepalive_connections_opened_total')).toBe(0);
      const off = await startServer({ port: 0, tcpPort: null, inspector: false, metrics: false });
      expect((await fetch(`${off.url}/metrics`)).status).toBe(404);
      await off.close();
    } finally {
      await open.close();
      await guarded.close();
    }
  });
});

describe('--log json on Node', () => {
  it('writes one JSON object per line; a death is one line with its connection, peer and silence', { timeout: 20_000 }, async () => {
    const cli = await spawnServer(['--log', 'json', '--interval', String(INTERVAL), '--count', String(COUNT)]);
    // The banner too is JSON: each line a message record.
    const banner = JSON.parse(await cli.line(/WebSocket/)) as { message: string };
    const ws = /ws:\/\/\S+/.exec(banner.message)![0];
    const silent = new WebSocket(`${ws}?peer=quiet`);
    await new Promise((resolve) => silent.once('open', resolve));
    silent.send(TEXT_FRAMES.ADVERTISE);
    const line = await cli.line(/"event":"dead"/, 5000);
    silent.terminate();
    const dead = JSON.parse(line) as Record<string, unknown>;
    expect(dead).toMatchObject({ level: 'warn', event: 'dead', hub: 'default', peer: 'quiet', unanswered: COUNT });
    expect(typeof dead.connection).toBe('string');
    expect(dead.silentFor).toBeGreaterThanOrEqual(INTERVAL * (COUNT + 1));
    expect(Number.isNaN(Date.parse(String(dead.time)))).toBe(false);
    for (const text of cli.stdout.filter((l) => l.trim() !== '')) expect(() => JSON.parse(text), text).not.toThrow();
    expect(cli.stdout.filter((l) => /"event":"dead"/.test(l))).toHaveLength(1);
  });
});
