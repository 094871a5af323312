/**
 * Node and Deno as separate real processes on loopback, each side frozen with SIGSTOP:
 * a Node client against the Deno server, a Deno client against the Node server, over
 * WebSocket (text) and TCP (libvirt frames). Same bounds as the Node-only tests.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { actors, killAll, poll, spawnCli, spawnServer, type Spawned } from '../node/helpers.ts';
import { spawnDeno, spawnDenoServer } from './helpers.ts';

const INTERVAL = 250;
const COUNT = 2;
/** A silent peer is dead exactly this long after its last message. */
const DEATH = INTERVAL * (COUNT + 1);
/** Scheduling, polling and process wake-up on a busy machine; less than the 750 ms rule itself. */
const TOLERANCE = 700;
const KEEPALIVE = ['--interval', String(INTERVAL), '--count', String(COUNT)];

afterEach(() => killAll());

type Server = Awaited<ReturnType<typeof spawnServer>>;

const pairings = [
  { name: 'Node client, Deno server', server: () => spawnDenoServer(KEEPALIVE), client: (url: string) => spawnCli(['connect', url, ...KEEPALIVE]) },
  { name: 'Deno client, Node server', server: () => spawnServer(KEEPALIVE), client: (url: string) => spawnDeno(['connect', url, ...KEEPALIVE]) },
] as const;

const cases = pairings.flatMap((pairing) => (['ws', 'tcp'] as const).map((transport) => ({ ...pairing, transport })));

describe.each(cases)('$name over $transport', ({ server: startServer, client: startClient, transport }) => {
  async function connected(): Promise<{ server: Server; client: Spawned; id: string }> {
    const server = await startServer();
    const client = startClient(server[transport]);
    await client.line(/connected to/);
    const [actor] = await poll(async () => {
      const list = await actors(server.http);
      return list.length === 1 && list[0]!.pingsReceived + list[0]!.pongsReceived > 0 && list;
    });
    return { server, client, id: actor!.id };
  }

  it('stays alive across many intervals, then the server declares the frozen client dead', async () => {
    const { server, client, id } = await connected();
    // 8 intervals: more than twice the silence that would kill a peer.
    const until = Date.now() + INTERVAL * 8;
    await poll(() => Date.now() >= until, INTERVAL * 20, 50);
    const [alive] = await actors(server.http);
    expect(alive?.id).toBe(id);
    expect(alive?.state).toMatch(/^alive/);
    expect(alive?.codec).toBe(transport === 'ws' ? 'text' : 'libvirt');
    expect(alive!.pingsReceived + alive!.pongsReceived).toBeGreaterThanOrEqual(4);
    expect(alive!.pongsSent + alive!.pingsSent).toBeGreaterThanOrEqual(4);
    expect(client.exitCode).toBeNull();
    expect(client.stdout.filter((l) => / <- P(ING|ONG)$/.test(l)).length).toBeGreaterThanOrEqual(4);
    expect(client.stdout.some((l) => / -> ADVERTISE$/.test(l))).toBe(true);

    const stoppedAt = Date.now();
    client.proc.kill('SIGSTOP');
    await poll(async () => (await actors(server.http)).length === 0, DEATH + TOLERANCE * 3, 20);
    // The last sign of life came at or before the stop, so death can be no later than this.
    expect(Date.now() - stoppedAt).toBeLessThanOrEqual(DEATH + TOLERANCE);
    const line = await server.line(new RegExp(`${id} dead: peer dead: silent for \\d+ ms`));
    const silentFor = Number(line.match(/silent for (\d+) ms/)![1]);
    expect(silentFor).toBeGreaterThanOrEqual(DEATH);
    expect(silentFor).toBeLessThanOrEqual(DEATH + TOLERANCE);
    expect(line).toContain(`${COUNT} keepalive PING(s) unanswered`);

    client.proc.kill('SIGCONT');
    // The thawed client learns the server hung up and says so: from the close frame, or
    // (Deno's WebSocket) from the PONG it owed failing on the socket the server dropped,
    // as "Failed to send frame" or, when the write reaches the closed socket, "Broken pipe".
    expect(await client.exited()).toBe(1);
    expect(client.stderr.join('\n')).toMatch(/connection closed: server closed the (connection \(4000\): peer dead|connection \(0\) \((Failed to send frame|Broken pipe \(os error 32\))\)|TCP connection)/);
  });

  it('the client declares a frozen server dead and exits 2 with a clear message', async () => {
    const { server, client } = await connected();
    const stoppedAt = Date.now();
    server.proc.kill('SIGSTOP');
    const code = await client.exited(DEATH + TOLERANCE * 4);
    const elapsed = Date.now() - stoppedAt;
    expect(code).toBe(2);
    const verdict = await client.line(/server declared dead/);
    expect(verdict).toMatch(new RegExp(`silent for \\d+ ms, ${COUNT} keepalive PING\\(s\\) unanswered`));
    const silentFor = Number(verdict.match(/silent for (\d+) ms/)![1]);
    expect(silentFor).toBeGreaterThanOrEqual(DEATH);
    // Includes the client process's own exit.
    expect(elapsed).toBeLessThanOrEqual(DEATH + TOLERANCE * 2);
    expect(client.stdout.filter((l) => / -> PING$/.test(l)).length).toBeGreaterThanOrEqual(COUNT);
  });
});

it('SIGTERM on the Deno server (local mode) closes every client with the reason, exit 0', async () => {
  const server = await spawnDenoServer(KEEPALIVE);
  const wsClient = spawnCli(['connect', server.ws, ...KEEPALIVE]);
  const tcpClient = spawnCli(['connect', server.tcp, ...KEEPALIVE]);
  await Promise.all([wsClient.line(/connected to/), tcpClient.line(/connected to/)]);
  await poll(async () => (await actors(server.http)).length === 2);
  server.proc.kill('SIGTERM');
  expect(await server.exited()).toBe(0);
  expect(await wsClient.exited()).toBe(0);
  expect(wsClient.stdout.join('\n')).toMatch(/connection closed: server closed the connection \(1000\): server shutting down \(SIGTERM\)/);
  expect(await tcpClient.exited()).toBe(1);
  expect(tcpClient.stderr.join('\n')).toMatch(/server closed the TCP connection/);
  expect(server.stdout.filter((l) => /closed: server shutting down \(SIGTERM\)/.test(l))).toHaveLength(2);
});

it('SIGINT on a Deno client closes its connection cleanly (exit 0), the Node server sees why', async () => {
  const server = await spawnServer(KEEPALIVE);
  const client = spawnDeno(['connect', server.ws, ...KEEPALIVE]);
  await client.line(/connected to/);
  const [actor] = await poll(async () => {
    const list = await actors(server.http);
    return list.length === 1 && list;
  });
  client.proc.kill('SIGINT');
  expect(await client.exited()).toBe(0);
  await server.line(new RegExp(`${actor!.id} closed: peer closed: client interrupted`));
});

it('the Deno CLI: --help, bad flags, settings from the environment', async () => {
  const help = spawnDeno(['serve', '--help']);
  expect(await help.exited()).toBe(0);
  for (const option of ['--host', '--port', '--tcp-port', '--no-tcp', '--interval', '--count', '--no-ping', '--token', '--kv', 'KEEPALIVE_KV']) {
    expect(help.stdout.join('\n')).toContain(option);
  }
  const bad = spawnDeno(['serve', '--port', '0', '--tcp-port', '0', '--count', 'many']);
  expect(await bad.exited()).toBe(1);
  expect(bad.stderr.join('\n')).toMatch(/--count must be a whole number >= 0, got "many"/);
  const refused = spawnDeno(['connect', 'tcp://127.0.0.1:1']);
  expect(await refused.exited()).toBe(1);
  expect(refused.stderr.join('\n')).toMatch(/connection failed: .*refused/i);

  const server = await spawnDenoServer([], { KEEPALIVE_INTERVAL: '300', KEEPALIVE_COUNT: '4', KEEPALIVE_SEND_PINGS: 'false' });
  expect(server.stdout[0]).toContain('300 ms, count 4, pings off, timers: local');
  const client = spawnCli(['connect', server.ws, '--interval', '300']);
  await client.line(/connected to/);
  const [actor] = await poll(async () => {
    const list = await actors(server.http);
    return list.length === 1 && list;
  });
  expect(actor).toMatchObject({ interval: 300, count: 4, sendPings: false });

  const noTcp = spawnDeno(['serve', '--port', '0', '--no-tcp']);
  await noTcp.line(/health\s+http:\/\//);
  expect(noTcp.stdout.some((l) => /TCP\s+tcp:/.test(l))).toBe(false);
});
