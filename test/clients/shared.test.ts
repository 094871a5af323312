/**
 * The clients' suite: the same cases against every client, which are one client
 * (runtime/client/keepalive-client.ts) over each platform's sockets. Here, under Node 24:
 * the browser client on Node's global WebSocket (the web socket Deno's client uses too)
 * and the Node client on `ws`, against the real Node server in this process. A TCP relay
 * between them freezes or cuts the link. The Deno client runs the reconnect and resume
 * case under the deno binary (test/deno/native/client_test.ts) and, through the CLI, against the
 * Node server (test/deno/processes.test.ts). Intervals are short; every bound is stated,
 * and every check waits for its condition.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect as browserConnect } from '../../adapters/browser/index.ts';
import { connect as nodeConnect } from '../../adapters/node/client.ts';
import { startServer, type RunningServer, type ServerOptions } from '../../adapters/node/server.ts';
import { poll } from '../node/helpers.ts';
import type { ConnectOptions } from '../../runtime/client/options.ts';
import { startProxy, type TcpProxy } from '../support/tcp-proxy.ts';

/** The client's rule: a silent server is dead 300 * (2 + 1) = 900 ms after its last message. */
const CLIENT = { interval: 300, count: 2 };
const DEATH = CLIENT.interval * (CLIENT.count + 1);
/** The server judges more slowly (3 s), so a freeze that kills it for the client leaves the client alive for the server. */
const SERVER = { interval: 1000, count: 2 };
/** Timers and event loops on a loaded 2-core machine. */
const TOLERANCE = 400;

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function serve(options: ServerOptions = {}): Promise<RunningServer> {
  const server = await startServer({
    port: 0,
    tcpPort: 0,
    ...SERVER,
    inspector: false,
    hooks: { onMessage: (conn, data) => void conn.send(typeof data === 'string' ? `echo: ${data}` : data) },
    ...options,
  });
  cleanup.push(() => server.close(undefined, { keepConnections: false }));
  return server;
}

async function proxy(server: RunningServer): Promise<TcpProxy> {
  const relay = await startProxy(server.port);
  cleanup.push(() => relay.close());
  return relay;
}

const clients = { 'browser client (global WebSocket)': browserConnect, 'Node client (ws)': nodeConnect };

describe.each(Object.entries(clients))('the %s on Node 24', (_name, connect) => {
  /** A client and everything it said, in order, as `type` or `type detail`. */
  function client(url: string, options: ConnectOptions = {}) {
    const c = connect(url, { ...CLIENT, ...options });
    cleanup.push(() => c.readyState !== 3 && c.close());
    const events: string[] = [];
    const messages: (string | Uint8Array)[] = [];
    const deaths: { silentFor: number; at: number }[] = [];
    c.addEventListener('open', (e) => events.push(`open ${e.attempt}`));
    c.addEventListener('message', (e) => messages.push(e.data));
    c.addEventListener('dead', (e) => {
      deaths.push({ silentFor: e.silentFor, at: e.at });
      events.push('dead');
    });
    c.addEventListener('reconnecting', (e) => events.push(`reconnecting ${e.attempt}`));
    c.addEventListener('close', (e) => events.push(`close ${e.code} ${e.reason}`));
    return { c, events, messages, deaths };
  }

  const sessionConnections = (server: RunningServer) => server.host.list().filter((v) => v.meta.sessionHash !== undefined);

    it('opens, sends text and bytes, gets the echoes, and closes for good', async () => {
      const server = await serve();
      const { c, events, messages } = client(server.wsUrl, { peer: 'ada@example' });
      // Sent before the socket is open: held, then delivered in order.
      c.send('early');
      expect(c.bufferedAmount).toBe(5);
      await poll(() => events.includes('open 0'));
      c.send('hello');
      c.send(new Uint8Array([1, 2, 3]));
      await poll(() => messages.length === 3);
      expect(messages[0]).toBe('echo: early');
      expect(messages[1]).toBe('echo: hello');
      expect(messages[2]).toBeInstanceOf(Uint8Array);
      expect([...(messages[2] as Uint8Array)]).toEqual([1, 2, 3]);
      const [view] = server.host.list();
      expect(view).toMatchObject({ advertised: true, meta: { peer: 'ada@example' } });
      // Delivery mode's RESUME and ACK frames are signs of life and count among the messages too.
      expect(view!.messagesReceived).toBeGreaterThanOrEqual(3);
      expect(c.readyState).toBe(1);

      c.close();
      expect(c.readyState).toBe(3);
      await poll(() => events.at(-1) === 'close 1000 client closing');
      await poll(() => server.host.size === 0);
      expect(() => c.send('late')).toThrow(/closed/);
    });

    it('refuses frames with the protocol prefix, bad peer names, and sends past the buffer limit', async () => {
      const arrived: (string | Uint8Array)[] = [];
      const server = await serve({ hooks: { onMessage: (_conn, data) => void arrived.push(data) } });
      expect(() => connect(server.wsUrl, { peer: 'no spaces' })).toThrow(TypeError);
      expect(() => connect(server.wsUrl, { peer: 'x'.repeat(65) })).toThrow(TypeError);
      expect(() => connect('ftp://example.com/')).toThrow(TypeError);
      const { c, events } = client(server.wsUrl, { maxBuffered: 10 });
      expect(() => c.send('keepalive:PING')).toThrow(TypeError);
      c.send('12345');
      c.send(new Uint8Array(5));
      expect(() => c.send('1')).toThrow(RangeError);
      await poll(() => events.includes('open 0'));
      // Held until the server acknowledged them (delivery mode), then let go of.
      await poll(() => c.bufferedAmount === 0);
      expect(() => c.send('keepalive:PONG')).toThrow(/keepalive:/);
      // A refused frame never reached the server: only the two buffered ones did.
      expect(arrived.map((data) => (typeof data === 'string' ? data : `${data.length} bytes`))).toEqual(['12345', '5 bytes']);
    });

    it('after a cut link, reconnects and resumes the same server connection', async () => {
      const server = await serve();
      const relay = await proxy(server);
      const { c, events, messages } = client(`ws://127.0.0.1:${relay.port}/connect`);
      await poll(() => events.includes('open 0') && sessionConnections(server).length === 1);
      const [before] = sessionConnections(server);
      relay.cut();
      // Usually the first attempt; a later one if the server had not yet seen the cut (409).
      await poll(() => events.some((e) => /^open [1-9]/.test(e)), 5_000);
      expect(events.slice(0, 2)).toEqual(['open 0', 'reconnecting 1']);
      expect(events.filter((e) => e.startsWith('close') || e === 'dead')).toEqual([]);
      c.send('after');
      await poll(() => messages.includes('echo: after'));
      const after = sessionConnections(server);
      expect(after.map((v) => v.id)).toEqual([before!.id]);
      // Counters carry on (the reattaching socket counts as a sign of life too).
      expect(after[0]!.messagesReceived).toBeGreaterThan(before!.messagesReceived);
      expect(after[0]!.pingsReceived).toBeGreaterThanOrEqual(before!.pingsReceived);
    });

    it('declares a frozen server dead within interval*(count+1), reconnects after the thaw and resumes the same connection', async () => {
      const server = await serve();
      const relay = await proxy(server);
      const { c, events, deaths, messages } = client(`ws://127.0.0.1:${relay.port}/connect`);
      await poll(() => (c.view()?.pongsReceived ?? 0) + (c.view()?.pingsReceived ?? 0) >= 1 && sessionConnections(server).length === 1);
      const [before] = sessionConnections(server);
      const frozenAt = Date.now();
      relay.freeze();
      await poll(() => deaths.length === 1, DEATH + TOLERANCE * 3, 10);
      const [death] = deaths;
      // The last message came at or before the freeze: the verdict can be no later than this.
      expect(death!.at - frozenAt).toBeLessThanOrEqual(DEATH + TOLERANCE);
      expect(death!.silentFor).toBeGreaterThanOrEqual(DEATH);
      expect(death!.silentFor).toBeLessThanOrEqual(DEATH + TOLERANCE);
      await poll(() => events.includes('reconnecting 1'));
      expect(events.slice(events.indexOf('dead'), events.indexOf('dead') + 2)).toEqual(['dead', 'reconnecting 1']);

      relay.thaw();
      await poll(() => events.some((e) => /^open [1-9]/.test(e)), 10_000);
      c.send('back');
      await poll(() => messages.includes('echo: back'));
      const after = sessionConnections(server);
      expect(after.map((v) => v.id)).toEqual([before!.id]);
      expect(after[0]!.state).toMatch(/^alive/);
      expect(events.filter((e) => e.startsWith('close'))).toEqual([]);
    });

    it('with reconnect off, a cut link is the end: close, nothing after', async () => {
      const server = await serve();
      const relay = await proxy(server);
      const { events } = client(`ws://127.0.0.1:${relay.port}/connect`, { reconnect: false });
      await poll(() => events.includes('open 0') && server.host.size === 1);
      expect(server.host.list()[0]!.meta.sessionHash).toBeUndefined();
      relay.cut();
      await poll(() => events.some((e) => e.startsWith('close')));
      expect(events).toEqual(['open 0', expect.stringMatching(/^close 1006 server closed the connection \(1006\)/)]);
    });

    it('gives up after maxRetries failed attempts in a row', async () => {
      const server = await serve();
      const relay = await proxy(server);
      const { events } = client(`ws://127.0.0.1:${relay.port}/connect`, { reconnect: { minDelay: 10, maxDelay: 20, maxRetries: 2 } });
      await poll(() => events.includes('open 0'));
      await relay.close();
      await poll(() => events.some((e) => e.startsWith('close')));
      expect(events).toEqual(['open 0', 'reconnecting 1', 'reconnecting 2', expect.stringMatching(/^close 1006 gave up after 2 failed attempt\(s\): connection failed/)]);
    });
});
