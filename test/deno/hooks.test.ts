/**
 * The application API on the real `deno` binary: hooks in order with echo and authorize,
 * and webhooks in serverless mode (Deno KV) that reach a receiver down across a SIGKILL
 * and restart, every event under one stable id.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import { killAll, poll, spawnProcess, withUrls } from '../node/helpers.ts';
import { rawWs, upgradeStatus } from '../node/peers.ts';
import { WebhookReceiver } from '../support/webhook-receiver.ts';
import { DENO, spawnDenoServer } from './helpers.ts';

const INTERVAL = 400;
const COUNT = 1;
const SECRET = 'deno-webhook-secret';
let dir: string;
const closers: (() => unknown)[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keepalive-deno-hooks-'));
});
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('hooks on Deno', () => {
  it('authorize refuses before the upgrade; onOpen, onMessage (echoed), onDead at the bound, then onClose', async () => {
    const script = join(import.meta.dirname, 'hook-server.ts');
    const server = await withUrls(
      spawnProcess(DENO, ['run', '--allow-net', '--allow-env', '--allow-read', '--unstable-kv', script], { NO_COLOR: '1', INTERVAL: String(INTERVAL), COUNT: String(COUNT) }),
    );
    expect((await upgradeStatus(`${server.ws}?deny`)).status).toBe(401);
    const peer = await rawWs(`${server.ws}?name=erin`);
    closers.push(() => peer.ws.terminate());
    peer.ws.send(TEXT_FRAMES.ADVERTISE);
    peer.ws.send('hi');
    await poll(() => peer.received.includes('echo:hi'));
    // Silent from here: dead after interval*(count+1), then closed.
    await server.line(/^HOOK .*"onClose"/, INTERVAL * 10);
    const hooks = server.stdout.filter((l) => l.startsWith('HOOK ')).map((l) => JSON.parse(l.slice(5)) as { hook: string; peer: string; detail: unknown });
    expect(hooks.map((h) => h.hook)).toEqual(['onOpen', 'onMessage', 'onDead', 'onClose']);
    expect(hooks.every((h) => h.peer === 'erin')).toBe(true);
    expect(hooks[2]!.detail).toMatchObject({ unanswered: COUNT });
    expect((hooks[2]!.detail as { silentFor: number }).silentFor).toBeGreaterThanOrEqual(INTERVAL * (COUNT + 1));
    expect(hooks[3]!.detail).toMatchObject({ dead: true });
  });
});

describe('webhooks on Deno KV across a SIGKILL', () => {
  it('events recorded while the receiver is down are delivered by the next process, under the same ids', async () => {
    const receiver = await new WebhookReceiver({ secret: SECRET }).reserve();
    closers.push(() => receiver.stop());
    const kv = join(dir, 'kv.sqlite3');
    const args = ['--kv', kv, '--interval', String(INTERVAL), '--count', String(COUNT), '--webhook', receiver.url, '--webhook-secret', SECRET];
    const env = { KEEPALIVE_WEBHOOK_RETRY_MS: '100' };
    const first = await spawnDenoServer(args, env);
    const peer = await rawWs(`${first.ws}?peer=frank`);
    peer.ws.send(TEXT_FRAMES.ADVERTISE);
    await poll(async () => ((await (await fetch(`${first.http}/presence`)).json()) as unknown[]).length === 1);
    peer.ws.close(1000, 'bye');
    await first.line(/ closed: peer closed: bye/);
    // Tries fail (nothing listens). A KV write still in flight at a crash is lost (Deno KV
    // has no synchronous write), so the kill comes after a failed try that followed the close.
    const closedAt = first.stdout.findIndex((l) => / closed: peer closed: bye/.test(l));
    await poll(() => first.stdout.slice(closedAt).some((l) => /webhook .* try \d+ failed/.test(l)), 10_000);
    first.proc.kill('SIGKILL');
    await first.exited();

    await receiver.start();
    const second = await spawnDenoServer(args, env);
    await poll(() => receiver.delivered.length >= 2, 10_000);
    const delivered = receiver.delivered;
    expect(delivered.map((e) => e.type)).toEqual(['open', 'closed']);
    expect(new Set(delivered.map((e) => e.connection)).size).toBe(1);
    expect(delivered.map((e) => e.id)).toEqual([`${delivered[0]!.connection}:open`, `${delivered[0]!.connection}:closed`]);
    expect(delivered[1]).toMatchObject({ peer: 'frank', reason: 'peer closed: bye', dead: false, hub: 'default' });
    expect(receiver.requests.every((r) => r.signed)).toBe(true);
    second.proc.kill('SIGKILL');
  });
});
