/**
 * Delivery mode on the Node server: a client of ours behind a relay that cuts the
 * connection at random moments while both sides stream; every message arrives once, in
 * order, both ways. And what the hub does with a peer that breaks the rules, or dies with
 * messages it never acknowledged.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { connect as browserConnect } from '../../adapters/browser/index.ts';
import { connect, type KeepaliveClient } from '../../adapters/node/client.ts';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import type { CloseInfo, Connection, DeadVerdict } from '../../runtime/application/index.ts';
import { DELIVERY_PROTOCOL, encodeData } from '../../runtime/delivery/index.ts';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import { createSessionSecret } from '../../runtime/protocol/sessions.ts';
import { streamUnderCuts, type ServerStream } from '../support/delivery-stream.ts';
import { until } from './helpers.ts';
import { WebhookReceiver } from '../support/webhook-receiver.ts';

const servers: RunningServer[] = [];
const clients: KeepaliveClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((server) => server.close(undefined, { keepConnections: false })));
});

/** A server whose hooks stream to the one connection there is and record what it says. */
async function streamingServer(options: { interval: number; count: number }) {
  let conn: Connection | undefined;
  const received: string[] = [];
  const seqs: number[] = [];
  let timer: ReturnType<typeof setInterval> | undefined;
  let sent = 0;
  const server = await startServer({
    port: 0,
    tcpPort: null,
    ...options,
    hooks: {
      onOpen: (c) => void (conn = c),
      onMessage: (_c, data, _hub, { seq }) => {
        received.push(String(data));
        seqs.push(seq!);
      },
    },
  });
  servers.push(server);
  const stream: ServerStream = {
    async start(rate) {
      await until(() => conn, 'the connection opened');
      timer = setInterval(() => {
        if (!conn!.send(`s${sent}`)) throw new Error(`send ${sent} refused`);
        sent++;
      }, 1000 / rate);
    },
    async stop() {
      clearInterval(timer);
      return sent;
    },
    received: async () => received,
  };
  return { server, stream, seqs };
}

describe('delivery mode on Node', () => {
  it('carries every message once, in order, both ways, through 200 cuts at random moments', async () => {
    const { server, stream, seqs } = await streamingServer({ interval: 1000, count: 2 });
    const run = await streamUnderCuts({
      target: { host: '127.0.0.1', port: Number(new URL(server.wsUrl).port) },
      server: stream,
      rate: 500,
      cuts: 200,
      cutMin: 50,
      cutMax: 400,
      interval: 1000,
      count: 2,
    });
    clients.push(run.client);
    expect(run.cuts).toBeGreaterThanOrEqual(200);
    expect(run.opens).toBeGreaterThan(100);
    expect(run.down.count).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0 });
    expect(run.up.count).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0 });
    expect(run.down.sent).toBeGreaterThan(1000);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  }, 180_000);

  it('closes a peer that breaks the rules with 4002 and the rule it broke, and nobody else', async () => {
    const server = await startServer({ port: 0, tcpPort: null, interval: 1000, count: 2 });
    servers.push(server);
    const bystander = connect(server.wsUrl, { delivery: true, interval: 1000, count: 2 });
    clients.push(bystander);
    await new Promise((resolve) => bystander.addEventListener('open', resolve, { once: true }));
    const cases: [string, (ws: WebSocket) => void, RegExp][] = [
      ['a sequence that skips', (ws) => ws.send(encodeData(2, 0, 'x')), /^delivery error \(sequence\): DATA 2 where 1 was next/],
      ['an ack beyond what was sent', (ws) => ws.send('keepalive:ACK 5'), /^delivery error \(ack\): acknowledges 5, but only 0 were sent/],
      ['an unframed message', (ws) => ws.send('hello'), /^delivery error \(malformed\)/],
      ['a second RESUME on one socket', (ws) => ws.send('keepalive:RESUME - 0 0'), /^delivery error \(resume\): RESUME twice on one socket/],
    ];
    for (const [name, attack, reason] of cases) {
      const ws = new WebSocket(`${server.wsUrl}?session=${createSessionSecret()}`, [DELIVERY_PROTOCOL]);
      const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, why) => resolve({ code, reason: why.toString() })));
      await new Promise((resolve) => ws.once('open', resolve));
      expect(ws.protocol, name).toBe(DELIVERY_PROTOCOL);
      ws.send(TEXT_FRAMES.ADVERTISE);
      ws.send('keepalive:RESUME - 0 0');
      attack(ws);
      const { code, reason: said } = await closed;
      expect(code, name).toBe(4002);
      expect(said, name).toMatch(reason);
    }
    // A resume that claims more than the server ever sent, on the session's next socket.
    const session = createSessionSecret();
    const first = new WebSocket(`${server.wsUrl}?session=${session}`, [DELIVERY_PROTOCOL]);
    const epoch = new Promise<string>((resolve) => first.on('message', (data) => String(data).startsWith('keepalive:RESUME ') && resolve(String(data).split(' ')[1]!)));
    await new Promise((resolve) => first.once('open', resolve));
    first.send(TEXT_FRAMES.ADVERTISE);
    first.send('keepalive:RESUME - 0 0');
    const known = await epoch;
    first.terminate();
    const again = await until(async () => {
      const ws = new WebSocket(`${server.wsUrl}?session=${session}`, [DELIVERY_PROTOCOL]);
      const opened = await new Promise<boolean>((resolve) => (ws.once('open', () => resolve(true)), ws.once('unexpected-response', () => resolve(false)), ws.once('error', () => resolve(false))));
      return opened && ws;
    }, 'the session free again');
    const closedAgain = new Promise<{ code: number; reason: string }>((resolve) => again.on('close', (code, why) => resolve({ code, reason: why.toString() })));
    again.send(`keepalive:RESUME ${known} 3 0`);
    expect(await closedAgain).toMatchObject({ code: 4002, reason: expect.stringMatching(/^delivery error \(resume\): RESUME claims 3 received, but only 0 were sent/) });
    // The bystander was never disturbed: still open, and still carried.
    expect(bystander.readyState).toBe(1);
    const echoed = new Promise<string>((resolve) => bystander.addEventListener('message', (e) => resolve(String(e.data)), { once: true }));
    server.hub.connections()[0]!.send('still here');
    expect(await echoed).toBe('still here');
  });

  it('names what a peer never acknowledged when it dies: onDead and onClose get the messages, the webhook their count and range', async () => {
    const dead: DeadVerdict[] = [];
    const closed: CloseInfo[] = [];
    const receiver = new WebhookReceiver();
    await receiver.start();
    const server = await startServer({
      port: 0,
      tcpPort: null,
      interval: 200,
      count: 1,
      webhook: { url: receiver.url },
      hooks: { onDead: (_c, verdict) => void dead.push(verdict), onClose: (_c, info) => void closed.push(info) },
    });
    servers.push(server);
    const ws = new WebSocket(`${server.wsUrl}?session=${createSessionSecret()}`, [DELIVERY_PROTOCOL]);
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(TEXT_FRAMES.ADVERTISE);
    ws.send('keepalive:RESUME - 0 0');
    const conn = await until(() => server.hub.connections()[0], 'the connection');
    for (const data of ['one', 'two', 'three']) expect(conn.send(data)).toBe(true);
    // The peer reads them and never acknowledges (it answers nothing at all): dead at its bound.
    await until(() => dead.length > 0 && closed.length > 0, 'the verdict');
    const undelivered = { count: 3, first: 1, last: 3, messages: ['one', 'two', 'three'] };
    expect(dead[0]!.undelivered).toEqual(undelivered);
    expect(closed[0]).toMatchObject({ dead: true, cause: { cause: 'dead' }, undelivered });
    const hooked = await until(() => receiver.delivered.filter((e) => e.type !== 'open').length === 2 && receiver.delivered, 'the webhooks');
    for (const event of hooked.filter((e) => e.type !== 'open')) expect((event as { undelivered?: unknown }).undelivered, event.type).toEqual({ count: 3, first: 1, last: 3 });
    ws.terminate();
    await receiver.stop();
  });

  it('bounds the window on both sides: past it a send is refused at once, and nothing accepted is dropped', async () => {
    // The server's: deliveryWindow messages (and bytes), to a peer that never acknowledges.
    const dead: DeadVerdict[] = [];
    const server = await startServer({ port: 0, tcpPort: null, interval: 200, count: 1, deliveryWindow: 4, deliveryWindowBytes: 1000, hooks: { onDead: (_c, verdict) => void dead.push(verdict) } });
    servers.push(server);
    const ws = new WebSocket(`${server.wsUrl}?session=${createSessionSecret()}`, [DELIVERY_PROTOCOL]);
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(TEXT_FRAMES.ADVERTISE);
    ws.send('keepalive:RESUME - 0 0');
    const conn = await until(() => server.hub.connections()[0], 'the connection');
    expect(conn.send('x'.repeat(990))).toBe(true);
    expect(conn.send('y'.repeat(20))).toBe(false); // past the bytes
    for (const data of ['a', 'b', 'c']) expect(conn.send(data)).toBe(true);
    expect(conn.send('d')).toBe(false); // past the messages
    expect(server.hub.broadcast('e')).toBe(0);
    await until(() => dead.length > 0, 'the verdict');
    expect(dead[0]!.undelivered).toMatchObject({ count: 4, first: 1, last: 4 });
    expect(dead[0]!.undelivered!.messages.slice(1)).toEqual(['a', 'b', 'c']);
    ws.terminate();

    // The client's: maxUnacked messages (and maxBuffered bytes), to a server that never acknowledges.
    const quiet = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: (offered) => (offered.has(DELIVERY_PROTOCOL) ? DELIVERY_PROTOCOL : false) });
    quiet.on('connection', (socket) =>
      socket.on('message', (data) => {
        if (String(data).startsWith('keepalive:RESUME')) socket.send('keepalive:RESUME quiet-1 0 0');
      }),
    );
    await new Promise((resolve) => quiet.once('listening', resolve));
    const client = connect(`ws://127.0.0.1:${(quiet.address() as AddressInfo).port}/connect`, { interval: 5000, count: 2, maxUnacked: 3, maxBuffered: 100 });
    clients.push(client);
    await until(() => client.readyState === 1, 'the open');
    expect(() => client.send('z'.repeat(101))).toThrow(RangeError);
    for (const data of ['1', '2', '3']) client.send(data);
    expect(() => client.send('4')).toThrow(RangeError);
    const closing = new Promise<readonly (string | Uint8Array)[]>((resolve) => client.addEventListener('close', (event) => resolve(event.undelivered)));
    client.close();
    expect(await closing).toEqual(['1', '2', '3']);
    await new Promise((resolve) => quiet.close(resolve));
  });

  it('gives a plain WebSocket client that does not offer it the frames of before, unchanged', async () => {
    const said: { data: string; seq: number | undefined }[] = [];
    const server = await startServer({ port: 0, tcpPort: null, interval: 1000, count: 2, hooks: { onMessage: (_c, data, _hub, { seq }) => void said.push({ data: String(data), seq }) } });
    servers.push(server);
    const plain = new WebSocket(`${server.wsUrl}?session=${createSessionSecret()}`);
    const frames: string[] = [];
    plain.on('message', (data) => frames.push(String(data)));
    await new Promise((resolve, reject) => plain.once('open', resolve).once('error', reject));
    expect(plain.protocol).toBe('');
    plain.send(TEXT_FRAMES.ADVERTISE);
    plain.send('hello');
    await until(() => said.length === 1, 'the message');
    expect(said).toEqual([{ data: 'hello', seq: undefined }]);
    expect(server.hub.broadcast('from the hub')).toBe(1);
    await until(() => frames.includes('from the hub'), 'the broadcast, as a plain frame');
    expect(frames.filter((frame) => frame.startsWith('keepalive:') && frame !== TEXT_FRAMES.PING && frame !== TEXT_FRAMES.PONG)).toEqual([]);
    plain.close();
  });

  // A page's WebSocket (and Node's global one) fails a handshake whose answer selects none of
  // the subprotocols offered (WHATWG's rule): there, `delivery: false` talks to such a server.
  // The Node client sees the answer first and opens again without offering.
  it.each([
    ['Node client (ws), by itself', connect, {}],
    ['browser client (global WebSocket), told delivery: false', browserConnect, { delivery: false }],
  ] as const)('the %s speaks plain frames to a server that does not select delivery mode', async (_name, connect, options) => {
    // Not our server: it answers the upgrade without a subprotocol and echoes what is not keepalive.
    const other = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => false });
    const got: string[] = [];
    other.on('connection', (socket) =>
      socket.on('message', (data) => {
        const text = String(data);
        if (text === TEXT_FRAMES.PING) socket.send(TEXT_FRAMES.PONG);
        else if (!text.startsWith('keepalive:')) {
          got.push(text);
          socket.send(`echo ${text}`);
        }
      }),
    );
    await new Promise((resolve) => other.once('listening', resolve));
    const client = connect(`ws://127.0.0.1:${(other.address() as AddressInfo).port}/connect`, { interval: 1000, count: 2, ...options });
    clients.push(client);
    const heard: { data: string; seq: number | undefined }[] = [];
    client.addEventListener('message', (event) => heard.push({ data: String(event.data), seq: event.seq }));
    client.send('hi');
    await until(() => heard.length === 1, 'the echo');
    expect(got).toEqual(['hi']);
    expect(heard).toEqual([{ data: 'echo hi', seq: undefined }]);
    client.close();
    await new Promise((resolve) => other.close(resolve));
  });
});
