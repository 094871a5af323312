/**
 * Serverless mode across process restarts: the Deno server keeps snapshots in a Deno KV
 * file and its deadlines in the KV queue. A peer goes quiet, the server PINGs it (mid-
 * probe), the server process is stopped (SIGTERM: snapshots written on the way out) or
 * killed (SIGKILL: snapshots as of each connection's last step) and a new process is
 * started on the same file.
 *
 * What resuming means here: sockets die with the process, so the restored connection has
 * no socket. It keeps its counters and its death clock, PINGs into the void, and is
 * declared dead on the schedule it had before the restart (then its snapshot is deleted).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import { actors, killAll, poll, type ActorView } from '../node/helpers.ts';
import { rawWs } from '../node/peers.ts';
import { spawnDenoServer } from './helpers.ts';

const INTERVAL = 1200;
const COUNT = 2;
/** A silent peer is dead exactly this long after its last message. */
const DEATH = INTERVAL * (COUNT + 1);
/** Process start-up, polling, and the local KV queue delivering up to ~100 ms late per wake-up. */
const TOLERANCE = 1000;
const KEEPALIVE = ['--interval', String(INTERVAL), '--count', String(COUNT)];

interface FullView extends ActorView {
  wakeAt: number | null;
  advertised: boolean;
  messagesReceived: number;
}

let dir: string;
let kvPath: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keepalive-kv-'));
  kvPath = join(dir, 'kv.sqlite3');
});
afterEach(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

const fullActors = (http: string) => actors(http) as Promise<FullView[]>;

describe.each(['SIGTERM', 'SIGKILL'] as const)('restart by %s mid-probe', (signal) => {
  it('the new process resumes the stored connection with its counters and deadline, and declares it dead on the original schedule', async () => {
    const first = await spawnDenoServer(['--kv', kvPath, ...KEEPALIVE]);
    expect(first.stdout.join('\n')).toMatch(/timers: kv/);
    expect(first.stdout.join('\n')).toMatch(/\(0 restored\)/);
    const peer = await rawWs(first.ws);
    peer.ws.send(TEXT_FRAMES.ADVERTISE); // and nothing more: the server's PINGs go unanswered
    const before = await poll(async () => {
      const [actor] = await fullActors(first.http);
      return actor && actor.unanswered === 1 && actor;
    }, INTERVAL * 3);
    expect(before.state).toBe('alive.probing');
    await poll(() => peer.received.length > 0);
    expect(peer.received).toEqual([TEXT_FRAMES.PING]);

    if (signal === 'SIGKILL') {
      // Crash at a quiet moment, well after the PING's snapshot write (a write still in
      // flight at the crash is lost, by design) and before the next deadline.
      await poll(() => Date.now() >= before.wakeAt! - INTERVAL / 2, INTERVAL, 10);
    }
    first.proc.kill(signal);
    expect(await first.exited()).toBe(signal === 'SIGTERM' ? 0 : 'SIGKILL');
    if (signal === 'SIGTERM') {
      await poll(() => peer.closed);
      expect(peer.closed).toEqual({ code: 1012, reason: 'server restarting (SIGTERM)' });
    }

    const second = await spawnDenoServer(['--kv', kvPath, ...KEEPALIVE]);
    expect(second.stdout.join('\n')).toMatch(/\(1 restored\)/);
    await second.line(new RegExp(`${before.id} restored`));
    const [after] = await fullActors(second.http);
    expect(after?.id).toBe(before.id);
    // The peer said nothing more, so its last sign of life is the one stored.
    expect(after!.lastSignOfLife).toBe(before.lastSignOfLife);
    if (after!.pingsSent === before.pingsSent) {
      // The restart took less than an interval (the usual case): nothing has moved at all.
      expect(after).toEqual(before);
    } else {
      // A deadline passed while no process ran: the new one sent that PING late, once.
      expect(after!.pingsSent).toBe(before.pingsSent + 1);
      expect(after!.unanswered).toBe(before.unanswered + 1);
      expect(after!.wakeAt!).toBeGreaterThanOrEqual(before.wakeAt! + INTERVAL);
    }

    // Its socket died with the first process: it is declared dead on the schedule it had,
    // PINGing at each remaining deadline, and dead at the one after the COUNT-th PING.
    const dueToDie = after!.wakeAt! + INTERVAL * (COUNT - after!.unanswered);
    const line = await second.line(new RegExp(`${before.id} dead: peer dead: silent for \\d+ ms`), DEATH + TOLERANCE * 3);
    const silentFor = Number(line.match(/silent for (\d+) ms/)![1]);
    expect(silentFor).toBeGreaterThanOrEqual(DEATH);
    expect(before.lastSignOfLife + silentFor).toBeGreaterThanOrEqual(dueToDie);
    expect(before.lastSignOfLife + silentFor).toBeLessThanOrEqual(dueToDie + TOLERANCE);
    expect(line).toContain(`${COUNT} keepalive PING(s) unanswered`);
    expect(await actors(second.http)).toEqual([]);

    second.proc.kill('SIGTERM');
    expect(await second.exited()).toBe(0);
    const queue = await second.line(/^queue: /);
    const [, enqueued, delivered, stale] = queue.match(/(\d+) wake-up\(s\) enqueued, (\d+) delivered, (\d+) stale/)!.map(Number);
    // The first process's armed wake-up reached the second one and was ignored; the rest
    // were the second process's own chain, each delivered once.
    expect(stale).toBeGreaterThanOrEqual(1);
    expect(delivered).toBe(enqueued);

    // The dead connection's snapshot is gone from the file.
    const third = await spawnDenoServer(['--kv', kvPath, ...KEEPALIVE]);
    expect(third.stdout.join('\n')).toMatch(/\(0 restored\)/);
  });
});
