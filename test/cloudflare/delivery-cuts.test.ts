/**
 * Delivery mode on `wrangler dev` (workerd, a Durable Object with hibernating sockets): the
 * Node client behind a relay that cuts the connection at random moments, 200 times, while
 * both sides stream 200 messages a second (the hub's sends in batches of 10, driven over
 * HTTP; test/cloudflare/delivery/worker.ts). At 500 a second, as on Node and Deno, this
 * machine's wrangler dev fell behind (the test Worker writes two storage rows per message it
 * hears): upgrades waited seconds and the client's window filled. Every message arrives once, in order, both ways,
 * and the hub's hook saw each with its sequence number. test/node/delivery.test.ts and
 * test/deno/delivery-cuts.test.ts are the same on Node and Deno.
 */
import { afterEach, expect, it } from 'vitest';
import { expectExactUnderCuts, streamUnderCuts, type ServerStream } from '../support/delivery-stream.ts';
import { startWranglerDev } from '../support/wrangler-dev.ts';

const HUB = 'delivery-cuts';
const BATCH = 10;
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

interface Heard {
  data: string;
  seq: number | null;
}

it('carries every message once, in order, both ways, through 200 cuts at random moments', async () => {
  const dev = await startWranglerDev({ KEEPALIVE_INTERVAL: '1000', KEEPALIVE_COUNT: '5' }, { KEEPALIVE_TOKEN: 'test-token' }, { config: 'test/cloudflare/delivery/wrangler.toml' });
  cleanup.push(() => dev.stop());
  const at = (path: string) => `${dev.base}/stream/${HUB}/${path}`;
  let driving: Promise<void> | undefined;
  let running = false;
  const server: ServerStream = {
    async start(rate) {
      running = true;
      driving = (async () => {
        while (running) {
          await fetch(at(`send?count=${BATCH}`), { method: 'POST' }).catch(() => undefined);
          await new Promise((resolve) => setTimeout(resolve, (1000 * BATCH) / rate));
        }
      })();
    },
    async stop() {
      running = false;
      await driving;
      return ((await (await fetch(at('sent'))).json()) as { sent: number }).sent;
    },
    received: async () => ((await (await fetch(at('heard'))).json()) as Heard[]).map((heard) => heard.data),
  };
  const run = await streamUnderCuts({
    target: { host: '127.0.0.1', port: dev.port },
    path: `/connect/${HUB}`,
    server,
    rate: 200,
    cuts: 200,
    cutMin: 50,
    cutMax: 400,
    // A loaded machine's wrangler dev can take seconds to answer an upgrade: both sides wait 6 s.
    interval: 1000,
    count: 5,
    settleMs: 20_000,
  });
  run.client.close();
  const heard = (await (await fetch(at('heard'))).json()) as Heard[];
  expectExactUnderCuts(run, 200, heard.map((h) => h.seq));
  console.log(`wrangler dev cuts: ${run.cuts} cuts, ${run.opens} opens, ${run.down.sent} down, ${run.up.sent} up`);
}, 180_000);
