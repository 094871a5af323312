/**
 * Delivery mode on the real `deno` binary: the Node client behind a relay that cuts the
 * connection at random moments while both sides stream 500 messages a second; every message
 * arrives once, in order, both ways (test/node/delivery.test.ts is the same on Node).
 */
import { afterEach, expect, it } from 'vitest';
import { killAll } from '../node/helpers.ts';
import { streamUnderCuts } from '../support/delivery-stream.ts';
import { remoteStream } from '../support/stream-app.ts';
import { spawnDenoStreamServer } from './helpers.ts';

afterEach(() => killAll());

it('carries every message once, in order, both ways, through 60 cuts at random moments', async () => {
  const server = await spawnDenoStreamServer({ INTERVAL: '1000', COUNT: '2' });
  const stream = remoteStream(server.base);
  const run = await streamUnderCuts({
    target: { host: '127.0.0.1', port: server.port },
    server: stream,
    rate: 500,
    cuts: 60,
    cutMin: 50,
    cutMax: 400,
    interval: 1000,
    count: 2,
  });
  run.client.close();
  expect(run.cuts).toBeGreaterThanOrEqual(60);
  expect(run.opens).toBeGreaterThan(30);
  expect(run.down.count).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0 });
  expect(run.up.count).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0 });
  expect(run.down.sent).toBeGreaterThan(1000);
  expect(run.up.sent).toBeGreaterThan(1000);
  // The hook was given each message's sequence number: 1, 2, 3, ... once each.
  const { seqs } = (await (await fetch(`${server.base}/stream/received`)).json()) as { seqs: number[] };
  expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  expect(seqs.length).toBe(run.up.sent);
  console.log(`deno cuts: ${run.cuts} cuts, ${run.opens} opens, ${run.down.sent} down, ${run.up.sent} up`);
}, 60_000);
