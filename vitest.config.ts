import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
import { RECEIVER_SECRET, startReceiver } from './test/cloudflare/hooks/receiver.ts';

// The webhook receiver the workerd-hooks project's objects POST to (loopback, this process).
const receiver = await startReceiver();

/** Failovers of a Redis primary (issue 36): timed in seconds on a 2-core machine, so run alone. */
const FAILOVERS = ['test/cluster/redis-cluster.test.ts', 'test/cluster/redis-cluster-hubs.test.ts', 'test/cluster/sentinel.test.ts'];

// One `vitest run` drives every suite: Node-side tests here, workerd tests in their own project.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/cloudflare/**', 'test/bench/**', 'test/package/**', ...FAILOVERS],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // Redis primaries SIGKILLed under 1,000 answering peers, with bounds of a few seconds:
        // each of these files runs a Redis Cluster or Sentinels and several hubs, so they run
        // one at a time, after everything else, beside no other file.
        test: {
          name: 'failover',
          include: FAILOVERS,
          sequence: { groupOrder: 2 },
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // The packed tarball in a fresh project (npm pack, npm install, tsc, wrangler, deno).
        // Its build takes both cores, so it runs in a group of its own, beside no other file
        // (after the parallel group; before the one-file-at-a-time group when maxWorkers is 1).
        test: {
          name: 'package',
          include: ['test/package/**/*.test.ts'],
          sequence: { groupOrder: 1 },
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
      {
        // Inside real workerd (Miniflare), the Worker and its Durable Object as wrangler.toml declares them.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              bindings: {
                KEEPALIVE_INTERVAL: '1000',
                KEEPALIVE_COUNT: '2',
                // A cap the tests can reach (100 sockets on one hub at most).
                KEEPALIVE_MAX_CONNECTIONS: '100',
                KEEPALIVE_COUNT_WAKES: 'true',
                // These tests time every alarm to the millisecond: PINGs exactly at their deadlines.
                // The default window (interval/4) is measured by bench figure 7 in wrangler dev and
                // tested in test/runtime/ping-window.test.ts.
                KEEPALIVE_PING_WINDOW: '0',
                KEEPALIVE_TOKEN: 'test-token',
                // Presence for peers: only connections that ask (`?presence=1`) get its frames.
                KEEPALIVE_PRESENCE: 'true',
              },
            },
          }),
        ],
        test: {
          name: 'workerd',
          include: ['test/cloudflare/workerd/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // A user's Worker: our routes in front of a KeepaliveHub subclass with hooks, and a webhook.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './test/cloudflare/hooks/wrangler.toml' },
            miniflare: {
              bindings: {
                KEEPALIVE_INTERVAL: '1000',
                KEEPALIVE_COUNT: '2',
                KEEPALIVE_TOKEN: 'test-token',
                KEEPALIVE_WEBHOOK: `${receiver.url}/hook`,
                KEEPALIVE_WEBHOOK_SECRET: RECEIVER_SECRET,
                // Long enough between tries that an eviction finds the object idle.
                KEEPALIVE_WEBHOOK_RETRY_MS: '1000',
                RECEIVER_URL: receiver.url,
              },
            },
          }),
        ],
        test: {
          name: 'workerd-hooks',
          include: ['test/cloudflare/hooks/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // One hub over four Durable Objects (KEEPALIVE_SHARDS), behind the Worker's own routes.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './test/cloudflare/shards/wrangler.toml' },
            miniflare: {
              bindings: {
                KEEPALIVE_SHARDS: '4',
                KEEPALIVE_INTERVAL: '1000',
                KEEPALIVE_COUNT: '2',
                KEEPALIVE_PING_WINDOW: '0',
                KEEPALIVE_COUNT_WAKES: 'true',
                KEEPALIVE_TOKEN: 'test-token',
                KEEPALIVE_WEBHOOK: `${receiver.url}/hook`,
                KEEPALIVE_WEBHOOK_SECRET: RECEIVER_SECRET,
                RECEIVER_URL: receiver.url,
              },
            },
          }),
        ],
        test: {
          name: 'workerd-shards',
          include: ['test/cloudflare/shards/**/*.test.ts'],
          exclude: ['test/cloudflare/shards/presence.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // The same, with presence for peers on (its pushes between shards wake siblings the other tests count).
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './test/cloudflare/shards/wrangler.toml' },
            miniflare: {
              bindings: {
                KEEPALIVE_SHARDS: '4',
                KEEPALIVE_PRESENCE: 'true',
                KEEPALIVE_INTERVAL: '1000',
                KEEPALIVE_COUNT: '2',
                KEEPALIVE_PING_WINDOW: '0',
                KEEPALIVE_COUNT_WAKES: 'true',
                KEEPALIVE_TOKEN: 'test-token',
                KEEPALIVE_WEBHOOK: `${receiver.url}/hook`,
                KEEPALIVE_WEBHOOK_SECRET: RECEIVER_SECRET,
                RECEIVER_URL: receiver.url,
              },
            },
          }),
        ],
        test: {
          name: 'workerd-shards-presence',
          include: ['test/cloudflare/shards/presence.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // Delivery mode on a Durable Object: a KeepaliveHub subclass that streams (test/cloudflare/delivery/worker.ts).
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './test/cloudflare/delivery/wrangler.toml' },
            miniflare: {
              bindings: {
                KEEPALIVE_INTERVAL: '1000',
                KEEPALIVE_COUNT: '2',
                KEEPALIVE_COUNT_WAKES: 'true',
                KEEPALIVE_TOKEN: 'test-token',
              },
            },
          }),
        ],
        test: {
          name: 'workerd-delivery',
          include: ['test/cloudflare/delivery/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // `wrangler dev` as a user runs it, driven by the Node client over a real socket.
        test: {
          name: 'wrangler-dev',
          include: ['test/cloudflare/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});
