/**
 * The KV-queue timer. Deliveries are handed to `deliver` with a fake clock where the
 * test needs exact times (a repeated, late, early or stale delivery); the last tests run
 * the real queue of a real Deno KV, including one message that really arrives twice.
 */
import assert from 'node:assert/strict';
import { Host } from '../../../runtime/host/host.ts';
import { TEXT_FRAMES } from '../../../runtime/codec/text.ts';
import type { Frame } from '../../../runtime/codec/codec.ts';
import type { Transport } from '../../../runtime/host/types.ts';
import { endText, type EndCause } from '../../../runtime/protocol/end-cause.ts';
import { isWakeMessage, QueueTimer, type WakeMessage } from '../../../adapters/deno/queue-timer.ts';
import { poll } from '../../support/wait.ts';

class Wire implements Transport {
  readonly sent: { id: string; frame: Frame }[] = [];
  readonly closed: { id: string; reason: string }[] = [];
  send(id: string, frame: Frame): void {
    this.sent.push({ id, frame });
  }
  close(id: string, cause: EndCause): void {
    this.closed.push({ id, reason: endText(cause) });
  }
}

/** A Deno.Kv whose queue only records what was enqueued: the test delivers by hand. */
function recordingKv(): { kv: Deno.Kv; queued: { message: WakeMessage; delay: number }[] } {
  const queued: { message: WakeMessage; delay: number }[] = [];
  const kv = {
    enqueue(message: unknown, options?: { delay?: number }) {
      assert.ok(isWakeMessage(message));
      queued.push({ message, delay: options?.delay ?? 0 });
      return Promise.resolve({ ok: true, versionstamp: String(queued.length) });
    },
  } as unknown as Deno.Kv;
  return { kv, queued };
}

function setup(interval = 1000, count = 2) {
  let now = 10_000;
  const wire = new Wire();
  const { kv, queued } = recordingKv();
  const timer = new QueueTimer({ kv, wake: (at) => host.tick(at), now: () => now });
  const host: Host = new Host({ transport: wire, now: () => now, onNextWake: timer.schedule, defaults: { interval, count } });
  return { host, wire, timer, queued, clock: { get: () => now, set: (at: number) => (now = at) } };
}

const pings = (wire: Wire) => wire.sent.filter((s) => s.frame === TEXT_FRAMES.PING).length;

Deno.test('one message for many connections: a later deadline enqueues nothing, an earlier one does', () => {
  const { host, timer, queued, clock } = setup();
  host.open({ role: 'client' });
  assert.equal(queued.length, 1);
  assert.deepEqual({ at: queued[0]!.message.at, delay: queued[0]!.delay }, { at: 11_000, delay: 1000 });
  for (let i = 1; i <= 20; i++) {
    clock.set(10_000 + i);
    host.open({ role: 'client' });
  }
  assert.equal(queued.length, 1, 'later deadlines ride on the armed message');
  host.open({ role: 'client', interval: 100 });
  assert.equal(queued.length, 2);
  assert.equal(queued[1]!.message.at, 10_120);
  assert.equal(timer.armedAt, 10_120);
});

Deno.test('the armed message ticks once; the same message delivered again changes nothing', () => {
  const { host, wire, timer, queued, clock } = setup();
  const id = host.open({ role: 'client' });
  const [first] = queued;
  clock.set(11_000);
  assert.equal(timer.deliver(first!.message), true);
  const after = { view: host.view(id), sent: wire.sent.length, queued: queued.length };
  assert.equal(pings(wire), 1);
  assert.equal(queued.length, 2, 'the tick armed the next deadline');
  assert.equal(queued[1]!.message.at, 12_000);

  // At-least-once delivery: the same message again, at once and much later.
  assert.equal(timer.deliver(structuredClone(first!.message)), false);
  clock.set(11_500);
  assert.equal(timer.deliver(first!.message), false);
  assert.deepEqual({ view: host.view(id), sent: wire.sent.length, queued: queued.length }, after);
  assert.deepEqual(timer.stats, { enqueued: 2, delivered: 1, stale: 2 });
  assert.equal(timer.armedAt, 12_000);
});

Deno.test('a message superseded by an earlier deadline is stale when it finally arrives', () => {
  const { host, wire, timer, queued, clock } = setup();
  host.open({ role: 'client' }); // 11_000
  host.open({ role: 'client', interval: 200 }); // 10_200 supersedes it
  const [late, early] = queued;
  clock.set(10_200);
  assert.equal(timer.deliver(early!.message), true);
  assert.equal(pings(wire), 1);
  clock.set(11_000);
  // The superseded one is dropped; the chain of armed messages covers 11_000 by itself.
  assert.equal(timer.deliver(late!.message), false);
  assert.equal(pings(wire), 1);
  const armed = queued.at(-1)!.message;
  assert.equal(armed.at, 10_400);
  clock.set(10_400);
  assert.equal(timer.deliver(armed), true);
  assert.equal(pings(wire), 2);
});

Deno.test('a late delivery PINGs once and gives the peer a full interval: lateness never kills', () => {
  const { host, wire, timer, queued, clock } = setup(1000, 1);
  const id = host.open({ role: 'client' });
  // The queue was 4 intervals late (a suspended isolate): still only one PING, no death.
  clock.set(15_000);
  assert.equal(timer.deliver(queued[0]!.message), true);
  assert.equal(pings(wire), 1);
  assert.equal(host.view(id)?.state, 'alive.probing');
  assert.equal(host.view(id)?.wakeAt, 16_000);
  assert.equal(queued.at(-1)!.message.at, 16_000);
  assert.equal(wire.closed.length, 0);
});

Deno.test('an early delivery ticks nothing and re-arms for the same deadline', () => {
  const { host, wire, timer, queued, clock } = setup();
  const id = host.open({ role: 'client' });
  clock.set(10_400);
  assert.equal(timer.deliver(queued[0]!.message), true);
  assert.equal(pings(wire), 0);
  assert.equal(host.view(id)?.wakeAt, 11_000);
  assert.equal(queued.length, 2);
  assert.deepEqual({ at: queued[1]!.message.at, delay: queued[1]!.delay }, { at: 11_000, delay: 600 });
});

Deno.test('messages from a previous process, and anything not ours, are ignored', () => {
  const { host, wire, timer, clock } = setup();
  host.open({ role: 'client' });
  clock.set(20_000);
  assert.equal(timer.deliver({ type: 'keepalive.wake', at: 11_000, nonce: 'from-before-the-restart' }), false);
  assert.equal(timer.deliver({ hello: 'world' }), false);
  assert.equal(timer.deliver(null), false);
  assert.equal(pings(wire), 0);
  assert.deepEqual(timer.stats, { enqueued: 1, delivered: 0, stale: 1 });
});

Deno.test('a failed enqueue is reported and retried, so the host is still woken', async () => {
  let fail = true;
  const sent: WakeMessage[] = [];
  const kv = {
    enqueue(message: WakeMessage) {
      if (fail) return Promise.reject(new Error('database is locked'));
      sent.push(message);
      return Promise.resolve({ ok: true, versionstamp: '1' });
    },
  } as unknown as Deno.Kv;
  const errors: unknown[] = [];
  const timer = new QueueTimer({ kv, wake: () => {}, retryMs: 1, onError: (e) => errors.push(e) });
  timer.schedule(Date.now() + 60_000);
  assert.notEqual(timer.armedAt, null);
  // Let the rejection land: the armed message is forgotten, a retry is pending.
  while (errors.length === 0) await Promise.resolve();
  assert.equal(timer.armedAt, null);
  fail = false;
  // Polls the fake queue (not a timed assertion): the retry lands within a few ms.
  await poll(() => sent.length > 0, 5_000, 5).catch(() => undefined);
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /database is locked/);
  assert.equal(sent.length, 1);
  assert.equal(timer.armedAt, sent[0]!.at);
  timer.stop();
});

async function openTempKv(): Promise<Deno.Kv & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: 'keepalive-queue-' });
  const kv = await Deno.openKv(`${dir}/kv.sqlite3`);
  return Object.assign(kv, {
    async [Symbol.asyncDispose]() {
      try {
        kv.close();
      } catch {
        // the test closed it to end listenQueue
      }
      await Deno.remove(dir, { recursive: true });
    },
  });
}


Deno.test('on the real KV queue: PINGs go out on time and a dead peer is declared, queue-driven', async () => {
  await using kv = await openTempKv();
  const wire = new Wire();
  const timer = new QueueTimer({ kv, wake: (at) => host.tick(at) });
  const host: Host = new Host({ transport: wire, onNextWake: timer.schedule, defaults: { interval: 100, count: 2 } });
  const listening = timer.listen();
  const openedAt = Date.now();
  const id = host.open({ role: 'client' });
  await poll(() => wire.closed.length === 1);
  const diedAfter = Date.now() - openedAt;
  assert.equal(pings(wire), 2);
  assert.match(wire.closed[0]!.reason, /^peer dead: silent for \d+ ms, 2 keepalive PING\(s\) unanswered/);
  // Dead at 300 ms after open by the rule; the local queue may deliver each of the three
  // wake-ups up to ~100 ms late (measured), and lateness only ever postpones a death.
  assert.ok(diedAfter >= 300, `died after ${diedAfter} ms`);
  assert.ok(diedAfter < 300 + 3 * 400, `died after ${diedAfter} ms`);
  assert.equal(host.has(id), false);
  assert.equal(timer.stats.delivered, 3);
  timer.stop();
  kv.close();
  await listening;
});

Deno.test('on the real KV queue: a wake-up that really arrives twice ticks once', async () => {
  await using kv = await openTempKv();
  const wire = new Wire();
  const enqueued: WakeMessage[] = [];
  // Every message goes into the queue twice, as an at-least-once queue may deliver it.
  const doubling = new Proxy(kv, {
    get(target, key) {
      if (key !== 'enqueue') return Reflect.get(target, key, target);
      return async (message: WakeMessage, options: { delay: number }) => {
        enqueued.push(message);
        await target.enqueue(message, options);
        return target.enqueue(message, options);
      };
    },
  });
  const delivered: WakeMessage[] = [];
  const timer = new QueueTimer({ kv: doubling, wake: (at) => host.tick(at) });
  const host: Host = new Host({ transport: wire, onNextWake: timer.schedule, defaults: { interval: 150, count: 1 } });
  const listening = kv.listenQueue((message: unknown) => {
    if (isWakeMessage(message)) delivered.push(message);
    timer.deliver(message);
  });
  host.open({ role: 'client' });
  await poll(() => wire.closed.length === 1);
  // Give every duplicate time to arrive: each was enqueued right behind its twin.
  await poll(() => delivered.length === 2 * enqueued.length);
  assert.equal(enqueued.length, 2, 'PING at 150 ms, death at 300 ms: two messages armed');
  assert.equal(timer.stats.delivered, 2);
  assert.equal(timer.stats.stale, 2);
  assert.equal(pings(wire), 1);
  assert.equal(wire.closed.length, 1);
  timer.stop();
  kv.close();
  await listening;
});
