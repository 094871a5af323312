/**
 * Server and client as separate real processes on loopback, frozen with SIGSTOP.
 * Short intervals; every timing bound is stated below and leaves room for a loaded
 * 2-core machine without letting a wrong deadline (one interval off) pass.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { actors, killAll, poll, spawnCli, spawnServer } from './helpers.ts';

const INTERVAL = 250;
const COUNT = 2;
/** A silent peer is dead exactly this long after its last message. */
const DEATH = INTERVAL * (COUNT + 1);
/** Scheduling, polling and process wake-up on a busy machine; less than the 750 ms rule itself. */
const TOLERANCE = 700;
const KEEPALIVE = ['--interval', String(INTERVAL), '--count', String(COUNT)];

afterEach(() => killAll());

const transports = ['ws', 'tcp'] as const;

describe.each(transports)('over %s', (transport) => {
  it('stays alive across many intervals, both sides pinging and answering', async () => {
    const server = await spawnServer(KEEPALIVE);
    const client = spawnCli(['connect', server[transport], ...KEEPALIVE]);
    await client.line(/connected to/);
    const [actor] = await poll(async () => {
      const list = await actors(server.http);
      return list.length === 1 && list;
    });
    // 12 intervals: four times the silence that would kill a peer.
    const until = Date.now() + INTERVAL * 12;
    await poll(() => Date.now() >= until, INTERVAL * 20, 50);
    const [after] = await actors(server.http);
    expect(after?.id).toBe(actor!.id);
    expect(after?.state).toMatch(/^alive/);
    expect(after?.codec).toBe(transport === 'ws' ? 'text' : 'libvirt');
    expect(after!.pingsReceived + after!.pongsReceived).toBeGreaterThanOrEqual(5);
    expect(client.exitCode).toBeNull();
    expect(client.stdout.filter((l) => / <- P(ING|ONG)$/.test(l)).length).toBeGreaterThanOrEqual(5);
    expect(client.stdout.some((l) => / -> ADVERTISE$/.test(l))).toBe(true);
  });

  it('server declares a frozen client dead within interval*(count+1); SIGCONT does not bring it back', async () => {
    const server = await spawnServer(KEEPALIVE);
    const client = spawnCli(['connect', server[transport], ...KEEPALIVE]);
    await client.line(/connected to/);
    const [actor] = await poll(async () => {
      const list = await actors(server.http);
      return list.length === 1 && list[0]!.pingsReceived + list[0]!.pongsReceived > 0 && list;
    });
    const stoppedAt = Date.now();
    client.proc.kill('SIGSTOP');
    await poll(async () => (await actors(server.http)).length === 0, DEATH + TOLERANCE * 3, 20);
    const detected = Date.now() - stoppedAt;
    // The last sign of life came at or before the stop, so death can be no later than this.
    expect(detected).toBeLessThanOrEqual(DEATH + TOLERANCE);
    const line = await server.line(new RegExp(`${actor!.id} dead: peer dead: silent for \\d+ ms`));
    const silentFor = Number(line.match(/silent for (\d+) ms/)![1]);
    expect(silentFor).toBeGreaterThanOrEqual(DEATH);
    expect(silentFor).toBeLessThanOrEqual(DEATH + TOLERANCE);
    expect(line).toContain(`${COUNT} keepalive PING(s) unanswered`);

    client.proc.kill('SIGCONT');
    // The thawed client learns the server hung up (a close frame or a reset) and says so.
    expect(await client.exited()).toBe(1);
    expect(client.stderr.join('\n')).toMatch(/connection closed: server closed the (connection \(4000\): peer dead|TCP connection)/);
    expect(await actors(server.http)).toEqual([]);
  });

  it('client declares a frozen server dead and exits non-zero with a clear message', async () => {
    const server = await spawnServer(KEEPALIVE);
    const client = spawnCli(['connect', server[transport], ...KEEPALIVE]);
    await client.line(/ <- P(ING|ONG)$/);
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

it('a client with --no-ping still answers the server, which keeps pinging', async () => {
  const server = await spawnServer(KEEPALIVE);
  const client = spawnCli(['connect', server.ws, ...KEEPALIVE, '--no-ping']);
  await client.line(/connected to/);
  const actor = await poll(async () => {
    const [a] = await actors(server.http);
    return a && a.pongsReceived >= 6 && a;
  }, INTERVAL * 20);
  expect(actor.pingsReceived).toBe(0);
  expect(actor.pingsSent).toBeGreaterThanOrEqual(6);
  expect(actor.state).toMatch(/^alive/);
  expect(client.stdout.filter((l) => / -> PING$/.test(l))).toEqual([]);
  // The client's stdout can trail its socket: wait for the lines rather than read them once.
  await poll(() => client.stdout.filter((l) => / -> PONG$/.test(l)).length >= 6, INTERVAL * 5);
  expect(client.exitCode).toBeNull();
});

it('a server with --no-ping is kept alive by the client pings, and answers them', async () => {
  const server = await spawnServer([...KEEPALIVE, '--no-ping']);
  const client = spawnCli(['connect', server.tcp, ...KEEPALIVE]);
  await client.line(/connected to/);
  const actor = await poll(async () => {
    const [a] = await actors(server.http);
    return a && a.pongsSent >= 6 && a;
  }, INTERVAL * 20);
  expect(actor.pingsSent).toBe(0);
  expect(actor.pingsReceived).toBeGreaterThanOrEqual(6);
  expect(actor.state).toMatch(/^alive/);
  // The client prints each PONG a moment after the server counted it: wait for its lines.
  await poll(() => client.stdout.filter((l) => / <- PONG$/.test(l)).length >= 6, INTERVAL * 5);
  expect(client.exitCode).toBeNull();
});

it('SIGTERM shuts the server down gracefully: exit 0, every client told why', async () => {
  const server = await spawnServer(KEEPALIVE);
  const wsClient = spawnCli(['connect', server.ws, ...KEEPALIVE]);
  const tcpClient = spawnCli(['connect', server.tcp, ...KEEPALIVE]);
  await Promise.all([wsClient.line(/connected to/), tcpClient.line(/connected to/)]);
  await poll(async () => (await actors(server.http)).length === 2);
  server.proc.kill('SIGTERM');
  expect(await server.exited()).toBe(0);
  expect(await wsClient.exited()).toBe(0);
  expect(wsClient.stdout.join('\n')).toMatch(/connection closed: server closed the connection \(1000\): server shutting down \(SIGTERM\)/);
  // TCP carries no reason: the client only sees the hang-up, and says so.
  expect(await tcpClient.exited()).toBe(1);
  expect(tcpClient.stderr.join('\n')).toMatch(/server closed the TCP connection/);
  expect(server.stdout.filter((l) => /closed: server shutting down \(SIGTERM\)/.test(l))).toHaveLength(2);
});

it('SIGINT on a client closes its connection cleanly (exit 0), the server sees why', async () => {
  const server = await spawnServer(KEEPALIVE);
  const client = spawnCli(['connect', server.ws, ...KEEPALIVE]);
  await client.line(/connected to/);
  const [actor] = await poll(async () => {
    const list = await actors(server.http);
    return list.length === 1 && list;
  });
  client.proc.kill('SIGINT');
  expect(await client.exited()).toBe(0);
  await server.line(new RegExp(`${actor!.id} closed: peer closed: client interrupted`));
  await poll(async () => (await actors(server.http)).length === 0);
});

describe('command line', () => {
  it('--help lists every option of serve and connect', async () => {
    const serve = spawnCli(['serve', '--help']);
    expect(await serve.exited()).toBe(0);
    const text = serve.stdout.join('\n');
    for (const option of ['--host', '--port', '--tcp-port', '--interval', '--count', '--no-ping', '--token', 'HOST', 'PORT', 'TCP_PORT', 'KEEPALIVE_INTERVAL', 'KEEPALIVE_COUNT', 'KEEPALIVE_SEND_PINGS']) {
      expect(text).toContain(option);
    }
    const connect = spawnCli(['connect', '--help']);
    expect(await connect.exited()).toBe(0);
    for (const option of ['URL', '--interval', '--count', '--no-ping']) expect(connect.stdout.join('\n')).toContain(option);
  });

  it('rejects bad flags with a clear message and exit 1', async () => {
    const badCount = spawnCli(['serve', '--port', '0', '--tcp-port', '0', '--count', 'many']);
    expect(await badCount.exited()).toBe(1);
    expect(badCount.stderr.join('\n')).toMatch(/--count must be a whole number >= 0, got "many"/);
    const unknown = spawnCli(['serve', '--bogus']);
    expect(await unknown.exited()).toBe(1);
    expect(unknown.stderr.join('\n')).toMatch(/--bogus/);
    const noUrl = spawnCli(['connect']);
    expect(await noUrl.exited()).toBe(1);
    expect(noUrl.stderr.join('\n')).toMatch(/exactly one URL/);
  });

  it('takes its settings from the environment', async () => {
    const server = await spawnServer([], { KEEPALIVE_INTERVAL: '300', KEEPALIVE_COUNT: '4', KEEPALIVE_SEND_PINGS: 'false' });
    expect(server.stdout[0]).toContain('300 ms, count 4, pings off');
    const client = spawnCli(['connect', server.ws, '--interval', '300']);
    await client.line(/connected to/);
    const [actor] = await poll(async () => {
      const list = await actors(server.http);
      return list.length === 1 && list;
    });
    expect(actor).toMatchObject({ interval: 300, count: 4, sendPings: false });
  });

  it('a client that cannot connect says so and exits 1', async () => {
    const client = spawnCli(['connect', 'tcp://127.0.0.1:1']);
    expect(await client.exited()).toBe(1);
    expect(client.stderr.join('\n')).toMatch(/connection failed: .*ECONNREFUSED/);
  });
});
