/**
 * The Deno client reconnects as every client does: a server restart (kv mode keeps its
 * connections and says 1012) is ridden out under the same actor, and the
 * restarted server resumes the same connection: same id, counters going on, nobody dead.
 */
import assert from 'node:assert/strict';
import { connect } from '../../../adapters/deno/client.ts';
import { startServer } from '../../../adapters/deno/server.ts';
import { poll } from '../../support/wait.ts';


Deno.test('the Deno client rides out a server restart on the same connection', async () => {
  const dir = await Deno.makeTempDir({ prefix: 'keepalive-client-' });
  const path = `${dir}/kv.sqlite3`;
  const settings = { tcpPort: null, interval: 300, count: 3, log: () => {} };
  try {
    const kv1 = await Deno.openKv(path);
    const first = await startServer({ ...settings, port: 0, kv: kv1 });
    const client = connect(first.wsUrl, { interval: 300, count: 3, reconnect: { minDelay: 20, maxDelay: 100 } });
    const events: string[] = [];
    client.addEventListener('reconnecting', ({ attempt, reason }) => events.push(`reconnecting ${attempt}: ${reason}`));
    client.addEventListener('open', ({ attempt, resumed }) => resumed && events.push(`resumed ${attempt}`));
    client.addEventListener('dead', ({ reason }) => events.push(`dead: ${reason}`));
    client.addEventListener('close', ({ code, reason }) => events.push(`closed ${code}: ${reason}`));
    await poll(() => (client.view()?.pongsReceived ?? 0) >= 1 && first.host.size === 1);
    const [before] = first.host.list();
    await first.close();
    kv1.close();
    await poll(() => events.some((event) => event.startsWith('reconnecting 1: server closed the connection (1012)')));

    const kv2 = await Deno.openKv(path);
    const second = await startServer({ ...settings, port: first.port, kv: kv2 });
    await poll(() => events.some((event) => event.startsWith('resumed')), 5_000);
    await poll(() => client.readyState === 1);
    const pongs = client.view()!.pongsReceived;
    await poll(() => client.view()!.pongsReceived > pongs, 3_000);
    const [after] = second.host.list();
    assert.equal(after!.id, before!.id, 'the same connection');
    assert.ok(after!.pingsReceived >= before!.pingsReceived, 'its counters went on');
    assert.deepEqual(events.filter((event) => /^(dead|closed)/.test(event)), []);
    client.close();
    await poll(() => events.some((event) => event.startsWith('closed 1000')));
    await second.close();
    kv2.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
