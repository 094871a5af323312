/**
 * Presence for peers on the Deno server, in-process on loopback, with the Deno client: two
 * connections of one peer are one entry, a state reaches the other peer, a silent raw peer
 * leaves every list within 100 ms of its verdict, and every list equals `/presence`.
 */
import assert from 'node:assert/strict';
import { startServer } from '../../../adapters/deno/server.ts';
import { connect } from '../../../adapters/deno/client.ts';
import type { KeepaliveClient, PresenceEvent } from '../../../runtime/client/index.ts';
import type { PresenceEntry } from '../../../runtime/application/index.ts';
import { TEXT_FRAMES } from '../../../runtime/codec/text.ts';
import { listForm, rowsForm } from '../../support/presence-lists.ts';
import { poll as until } from '../../support/wait.ts';

Deno.test('presence for peers on Deno: one entry per peer, states, a dead peer leaving within 100 ms of its verdict', async () => {
  const server = await startServer({ port: 0, tcpPort: null, interval: 200, count: 2, presence: true, inspector: false });
  const clients: KeepaliveClient[] = [];
  try {
    const join = (peer: string) => {
      const client = connect(server.wsUrl, { peer, interval: 200, count: 3 });
      clients.push(client);
      return client;
    };
    const [ada1, ada2, bob] = [join('ada'), join('ada'), join('bob')];
    // Every live client's list equals /presence, once the hub lists `peers` (before the first
    // ADVERTISE, an empty list agrees with an empty hub).
    const agree = (peers: number) =>
      until(async () => {
        const truth = rowsForm((await (await fetch(`${server.url}/presence`)).json()) as PresenceEntry[]);
        const live = clients.filter((c) => c.readyState !== 3);
        return truth.length === peers && live.every((c) => c.presence.available && JSON.stringify(listForm(c.presence.list())) === JSON.stringify(truth)) && truth;
      });
    assert.deepEqual((await agree(2)).map((e) => e.split(':')[0]), ['ada', 'bob']);

    ada1.presence.set({ typing: true });
    await until(() => JSON.stringify(bob.presence.list().find((e) => e.peer === 'ada')?.state) === '{"typing":true}');

    const leaves: { peer: string | null; at: number }[] = [];
    bob.presence.addEventListener('leave', (event: PresenceEvent) => leaves.push({ peer: event.peer, at: Date.now() }));
    const deaths: number[] = [];
    server.host.subscribe((event) => void (event.type === 'dead' && deaths.push(event.at)), { frames: false });
    const silent = new WebSocket(`${server.wsUrl}?peer=carl`);
    await new Promise((resolve) => silent.addEventListener('open', resolve));
    silent.send(TEXT_FRAMES.ADVERTISE);
    await until(() => bob.presence.list().some((e) => e.peer === 'carl'));
    await until(() => leaves.some((e) => e.peer === 'carl'), 5000, 5);
    const after = leaves.find((e) => e.peer === 'carl')!.at - deaths[0]!;
    console.log(`presence (Deno): a dead peer left the list ${after} ms after its verdict`);
    assert.ok(after <= 100, `left ${after} ms after the verdict`);
    silent.close();

    ada2.close();
    await agree(2);
    assert.equal(leaves.filter((e) => e.peer === 'ada').length, 0);
  } finally {
    for (const client of clients) if (client.readyState !== 3) client.close();
    await server.close();
  }
});
