/**
 * The Deno server in-process on loopback (ephemeral ports): the shared routes, bad input
 * on both transports, and kv mode's shutdown and resume through a real KV file. Peers
 * are raw web WebSockets and raw TCP connections, so the test sees the wire.
 */
import assert from 'node:assert/strict';
import { createLibvirtCodec } from '../../../runtime/codec/libvirt.ts';
import { TEXT_FRAMES } from '../../../runtime/codec/text.ts';
import type { ConnectionView, HostEvent } from '../../../runtime/host/types.ts';
import { endText } from '../../../runtime/protocol/end-cause.ts';
import { startServer, type RunningServer, type ServerOptions } from '../../../adapters/deno/server.ts';
import { poll } from '../../support/wait.ts';

const libvirt = createLibvirtCodec({ advertise: true });


async function serve(options: ServerOptions = {}): Promise<RunningServer & AsyncDisposable> {
  const server = await startServer({ port: 0, tcpPort: 0, interval: 200, count: 2, ...options });
  return Object.assign(server, { [Symbol.asyncDispose]: () => server.close() });
}

interface RawWs {
  ws: WebSocket;
  received: string[];
  closed: Promise<CloseEvent>;
}

/** A raw peer; with `answer` it PONGs every PING, otherwise it goes quiet after ADVERTISE. */
async function rawWs(url: string, answer = false): Promise<RawWs> {
  const ws = new WebSocket(url);
  const received: string[] = [];
  const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener('close', resolve));
  ws.addEventListener('message', (event) => {
    received.push(String(event.data));
    if (answer && event.data === TEXT_FRAMES.PING) ws.send(TEXT_FRAMES.PONG);
  });
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve);
    ws.addEventListener('error', reject);
  });
  ws.send(TEXT_FRAMES.ADVERTISE);
  return { ws, received, closed };
}

async function actors(server: RunningServer): Promise<ConnectionView[]> {
  const response = await fetch(`${server.url}/actors`);
  return (await response.json()) as ConnectionView[];
}

Deno.test('serves the shared routes: /healthz, /actors, and /connect only as an upgrade', async () => {
  await using server = await serve();
  const health = await fetch(`${server.url}/healthz`);
  assert.deepEqual(await health.json(), { ok: true, connections: 0 });
  // 426 Upgrade Required, on every runtime (the conformance suite checks all three).
  const plain = await fetch(`${server.url}/connect`);
  assert.equal(plain.status, 426);
  await plain.body?.cancel();
  const peer = await rawWs(server.wsUrl, true);
  const [actor] = await poll(async () => {
    const list = await actors(server);
    return list.length === 1 && list[0]!.advertised && list;
  });
  assert.equal(actor!.codec, 'text');
  assert.equal(server.openSockets().ws, 1);
  peer.ws.close(1000, 'done');
  await peer.closed;
  await poll(() => server.host.size === 0 && server.openSockets().ws === 0);
});

Deno.test('serves the inspector on loopback, behind the token when one is set, and not on an open interface without one', async () => {
  {
    await using server = await serve();
    const page = await fetch(`${server.url}/inspect`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /awaitingAdvertise/);
  }
  {
    await using server = await serve({ token: 'sesame' });
    const refused = await fetch(`${server.url}/inspect`);
    assert.equal(refused.status, 401);
    await refused.body?.cancel();
    const page = await fetch(`${server.url}/inspect?token=sesame`);
    assert.equal(page.status, 200);
    await page.body?.cancel();
  }
  {
    await using server = await serve({ host: '0.0.0.0' });
    const absent = await fetch(`http://127.0.0.1:${server.port}/inspect`);
    assert.equal(absent.status, 404);
    await absent.body?.cancel();
  }
});

Deno.test('bad input closes that one connection with a clear reason; the others carry on', async () => {
  await using server = await serve({ maxFrameBytes: 1024 });
  const good = await rawWs(server.wsUrl, true);
  const tcpGood = await Deno.connect({ port: server.tcpPort!, hostname: '127.0.0.1' });
  await tcpGood.write(libvirt.encode('ADVERTISE') as Uint8Array);
  await poll(() => server.host.size === 2);

  // WebSocket: a frame over the limit.
  const big = await rawWs(server.wsUrl);
  big.ws.send('x'.repeat(4096));
  const bigClosed = await big.closed;
  assert.equal(bigClosed.code, 4000);
  assert.match(bigClosed.reason, /^protocol error \(oversized\)/);

  // TCP: a length word that claims less than a libvirt header.
  const bad = await Deno.connect({ port: server.tcpPort!, hostname: '127.0.0.1' });
  await bad.write(new Uint8Array([0, 0, 0, 2, 1, 2, 3, 4]));
  const buffer = new Uint8Array(64);
  assert.equal(await bad.read(buffer).catch(() => null), null, 'the server hung up');
  bad.close();

  await poll(() => server.host.size === 2 && server.openSockets().tcp === 1);
  const list = await actors(server);
  assert.deepEqual(list.map((a) => a.codec).sort(), ['libvirt', 'text']);
  assert.ok(list.every((a) => a.state.startsWith('alive')));
  assert.equal(server.host.stats.rejected, 2);
  good.ws.close();
  await good.closed;
  tcpGood.close();
  await poll(() => server.host.size === 0);
});

Deno.test('the ADVERTISE deadline closes unadvertised WebSocket and TCP peers with the reason and frees their places under the cap', async () => {
  // Default: interval*(count+1) of the server's own settings.
  {
    await using server = await serve();
    assert.equal(server.host.defaults.advertiseTimeout, 200 * 3);
  }
  const deadline = 400;
  const events: HostEvent[] = [];
  await using server = await serve({ advertiseTimeout: deadline, maxConnections: 3, onEvent: (e) => events.push(e) });
  const good = await rawWs(server.wsUrl, true);
  const idle = new WebSocket(server.wsUrl);
  const received: string[] = [];
  idle.addEventListener('message', (event) => received.push(String(event.data)));
  const idleClosed = new Promise<CloseEvent>((resolve) => idle.addEventListener('close', resolve));
  const idleTcp = await Deno.connect({ port: server.tcpPort!, hostname: '127.0.0.1' });
  await poll(() => server.host.size === 3);
  const opened = server.host.list().filter((v) => !v.advertised);
  assert.equal(opened.length, 2);
  const refused = await fetch(`${server.url}/connect`, { headers: { upgrade: 'websocket', connection: 'upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' } });
  assert.equal(refused.status, 503);
  await refused.body?.cancel();

  const closed = await idleClosed;
  assert.equal(closed.code, 4000);
  assert.equal(closed.reason, `no ADVERTISE within ${deadline} ms`);
  assert.deepEqual(received, []);
  // The TCP peer is hung up on without a byte.
  assert.equal(await idleTcp.read(new Uint8Array(64)).catch(() => null), null);
  idleTcp.close();
  await poll(() => server.host.size === 1 && server.openSockets().tcp === 0);
  assert.equal(server.host.list()[0]!.advertised, true);
  const openedAt = new Map(events.filter((e) => e.type === 'opened').map((e) => [e.id, e.at]));
  const closes = events.filter((e) => e.type === 'closed');
  assert.deepEqual(closes.map((e) => e.id).sort(), opened.map((v) => v.id).sort());
  for (const close of closes) assert.ok(close.at - openedAt.get(close.id)! >= deadline, 'at the deadline, never before');

  // The freed places are taken again.
  const newcomers = [await rawWs(server.wsUrl, true), await rawWs(server.wsUrl, true)];
  await poll(() => server.host.size === 3 && server.host.list().every((v) => v.advertised));
  for (const peer of [good, ...newcomers]) {
    peer.ws.close(1000, 'done');
    await peer.closed;
  }
});

Deno.test('local mode: shutdown closes every connection with the reason', async () => {
  const server = await serve();
  const peer = await rawWs(server.wsUrl, true);
  await poll(() => server.host.size === 1);
  await server.close('maintenance');
  const closed = await peer.closed;
  assert.equal(closed.code, 1000);
  assert.equal(closed.reason, 'maintenance');
  assert.equal(server.host.size, 0);
});

Deno.test('kv mode: shutdown keeps every snapshot; the next server resumes them mid-probe', async () => {
  const dir = await Deno.makeTempDir({ prefix: 'keepalive-server-' });
  const path = `${dir}/kv.sqlite3`;
  try {
    const kv1 = await Deno.openKv(path);
    const first = await serve({ kv: kv1, interval: 300, count: 3 });
    const quiet = await rawWs(first.wsUrl); // advertises, then never answers
    const gone = await rawWs(first.wsUrl, true); // leaves before the restart
    // Mid-probe: the quiet peer's first PING is out and unanswered.
    const [probing] = await poll(async () => {
      const list = (await actors(first)).filter((a) => a.unanswered >= 1);
      return list.length === 1 && list;
    }, 3_000);
    gone.ws.close(1000, 'leaving');
    await gone.closed;
    await poll(() => first.host.size === 1);
    const before = first.host.view(probing!.id)!;
    await first.close();
    const goodbye = await quiet.closed;
    assert.equal(goodbye.code, 1012);
    assert.equal(goodbye.reason, endText({ cause: 'restart' }));
    kv1.close();

    const kv2 = await Deno.openKv(path);
    const second = await serve({ kv: kv2, interval: 300, count: 3 });
    try {
      assert.deepEqual(second.restored, [probing!.id], 'only the connection that was still open');
      const after = second.host.view(probing!.id)!;
      // Unless a deadline passed during the restart, nothing has moved.
      if (Date.now() < before.wakeAt!) assert.deepEqual(after, before);
      else assert.ok(after.pingsSent >= before.pingsSent);
      assert.equal(after.lastSignOfLife, before.lastSignOfLife);
      assert.equal(after.state, 'alive.probing');
      // Its socket died with the old process: it PINGs into the void and is declared
      // dead on the original schedule, as if the server had never restarted.
      const dead = Promise.withResolvers<number>();
      const stop = second.host.subscribe((event) => event.type === 'dead' && dead.resolve(event.at));
      const diedAt = await dead.promise;
      stop();
      assert.ok(diedAt >= before.lastSignOfLife + 300 * 4, `died ${diedAt - before.lastSignOfLife} ms after its last sign of life`);
      // Three queue deliveries (PINGs 2, 3 and the death), each up to ~100 ms late.
      assert.ok(diedAt <= before.lastSignOfLife + 300 * 4 + 3 * 400, `died ${diedAt - before.lastSignOfLife} ms after its last sign of life`);
      await second.host.flush();
      assert.equal((await Array.fromAsync(kv2.list({ prefix: ['keepalive'] }))).filter((e) => e.key[1] === 'connections').length, 0);
    } finally {
      await second.close();
      kv2.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
