/**
 * A shutdown while a webhook try is in flight: `drain` waits for it (or its time limit)
 * and lets it finish. It once spun on an empty `Promise.all` that settled at once, so the
 * try never got a turn and the process ran out of memory (found by test/metrics).
 */
import { describe, expect, it } from 'vitest';
import { MemoryEventStore, type ApplicationEvent } from '../../../runtime/application/events.ts';
import { Outbox } from '../../../runtime/application/outbox.ts';
import { WebhookSender } from '../../../runtime/application/webhook.ts';

describe('Outbox.drain', () => {
  it('lets a webhook try in flight finish, and returns', async () => {
    let answered = false;
    const webhook = new WebhookSender({ url: 'http://127.0.0.1:9/hook' });
    // The try: 50 ms of waiting on a timer, as a slow receiver.
    webhook.send = () => new Promise((resolve) => setTimeout(() => ((answered = true), resolve({ ok: true, status: 200 })), 50));
    const outbox = new Outbox({
      store: new MemoryEventStore(),
      webhook,
      runHooks: async () => {},
      hooksWant: () => false,
      schedule: () => {},
      now: Date.now,
      report: () => {},
    });
    outbox.start();
    const event: ApplicationEvent = { id: 'c:open', hub: 'h', connection: 'c', peer: null, at: Date.now(), meta: {}, type: 'open' };
    outbox.record(event);
    const started = Date.now();
    await outbox.drain(2000);
    expect(answered).toBe(true);
    expect(outbox.counts.delivered).toBe(1);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
