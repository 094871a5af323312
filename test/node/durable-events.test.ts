/**
 * Application events across a crash of the Node server (`--state`): a webhook receiver
 * that fails the first tries and is down across a SIGKILL gets every event, signed, under
 * stable ids; and a verdict written before the process died runs its onDead hook after
 * the restart, never for a connection that did not die.
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import { connect } from '../../adapters/node/client.ts';
import { killAll, NODE, poll, spawnProcess, spawnServer, withUrls } from './helpers.ts';
import { rawWs } from './peers.ts';
import { WebhookReceiver } from '../support/webhook-receiver.ts';

const INTERVAL = 400;
const COUNT = 1;
const SECRET = 'durable-events-secret';
let dir: string;
const closers: (() => unknown)[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keepalive-events-'));
});
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('webhooks across a SIGKILL', () => {
  it('every open, dead and closed event arrives once the receiver is back, signed, each under one stable id', async () => {
    const receiver = await new WebhookReceiver({ secret: SECRET, answer: (n) => (n <= 2 ? 503 : 200) }).start();
    closers.push(() => receiver.stop());
    const state = join(dir, 'state.sqlite');
    const args = ['--state', state, '--interval', String(INTERVAL), '--count', String(COUNT), '--webhook', receiver.url, '--webhook-secret', SECRET];
    const env = { KEEPALIVE_WEBHOOK_RETRY_MS: '100' };
    const first = await spawnServer(args, env);

    const alice = await rawWs(`${first.ws}?peer=alice`, true);
    closers.push(() => alice.ws.terminate());
    alice.ws.send(TEXT_FRAMES.ADVERTISE);
    const bob = await rawWs(`${first.ws}?peer=bob`);
    closers.push(() => bob.ws.terminate());
    bob.ws.send(TEXT_FRAMES.ADVERTISE);
    // Both opens get through after the two refused tries.
    await poll(() => receiver.delivered.filter((e) => e.type === 'open').length === 2, 10_000);
    expect(receiver.requests.slice(0, 2).map((r) => r.status)).toEqual([503, 503]);

    // Down from now on; bob goes silent and dies, then the server is killed.
    await receiver.stop();
    await first.line(/ dead: peer dead/, INTERVAL * 10);
    first.proc.kill('SIGKILL');
    await first.exited();

    await receiver.start();
    const second = await spawnServer(args, env);
    // Killed after the verdict's log line: its events were either written (and are delivered
    // now) or not (the connection is restored, dies again by the rule, and its events carry the same ids).
    // bob's dead and closed; alice's connection was restored without its socket and dies by the rule too.
    await poll(() => {
      const types = new Set(receiver.delivered.map((e) => `${e.peer}:${e.type}`));
      return ['alice:open', 'bob:open', 'bob:dead', 'bob:closed', 'alice:dead', 'alice:closed'].every((t) => types.has(t));
    }, 15_000);
    const delivered = receiver.delivered;
    // One id per event, whatever the tries and the restart: <connection>:<type>.
    const idsByEvent = new Map<string, Set<string>>();
    for (const event of delivered) {
      expect(event.id).toBe(`${event.connection}:${event.type}`);
      const key = `${event.connection}/${event.type}`;
      idsByEvent.set(key, (idsByEvent.get(key) ?? new Set()).add(event.id));
    }
    for (const ids of idsByEvent.values()) expect(ids.size).toBe(1);
    expect(receiver.requests.every((r) => r.signed)).toBe(true);
    const bobDead = delivered.find((e) => e.peer === 'bob' && e.type === 'dead');
    expect(bobDead).toMatchObject({ hub: 'default', unanswered: COUNT, silentFor: expect.any(Number) });
    second.proc.kill('SIGKILL');
  });
});

describe('hooks across a SIGKILL', () => {
  it('a verdict written before the crash runs onDead after the restart; a connection that lived on never gets one', async () => {
    const log = join(dir, 'hooks.jsonl');
    // The same port after the restart: dave's client reconnects to where it was.
    const env = { HOOK_LOG: log, INTERVAL: String(INTERVAL), COUNT: String(COUNT), STATE: join(dir, 'state.sqlite'), PORT: String(await freePort()) };
    const hookServer = join(import.meta.dirname, 'hook-server.ts');
    const first = await withUrls(spawnProcess(NODE, [hookServer], { ...env, CRASH_IN_ONDEAD: '1' }));

    // dave resumes across the restart and keeps answering; carol goes silent after ADVERTISE.
    const dave = connect(`${first.ws}?peer=dave`, { interval: INTERVAL, count: 3 });
    closers.push(() => dave.close());
    const carol = await rawWs(`${first.ws}?peer=carol`);
    closers.push(() => carol.ws.terminate());
    carol.ws.send(TEXT_FRAMES.ADVERTISE);

    // onDead kills the process as carol's verdict comes.
    expect(await first.exited(INTERVAL * 10)).toBe('SIGKILL');
    const lines = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { hook: string; peer: string; id: string; pid: number }) : []);
    expect(lines().filter((l) => l.hook === 'onDead')).toEqual([]);
    const daveId = lines().find((l) => l.peer === 'dave')!.id;

    const second = await withUrls(spawnProcess(NODE, [hookServer], { ...env, HOOK_LOG: log }));
    await poll(() => lines().some((l) => l.hook === 'onClose' && l.peer === 'carol'), 10_000);
    const after = lines().filter((l) => l.pid === second.proc.pid);
    expect(after.map((l) => `${l.hook}:${l.peer}`)).toEqual(['onDead:carol', 'onClose:carol']);
    // dave is back on the same connection and stays alive for several more intervals.
    await poll(() => dave.readyState === 1, 5000);
    const resumedAt = Date.now();
    await poll(() => Date.now() - resumedAt > INTERVAL * (COUNT + 2), INTERVAL * 10);
    expect(lines().filter((l) => l.peer === 'dave').map((l) => l.hook)).toEqual(['onOpen']);
    expect(lines().find((l) => l.peer === 'dave')!.id).toBe(daveId);
    second.proc.kill('SIGKILL');
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
