/**
 * The one command-line program (runtime/server/program.ts) on fake platforms: dispatch,
 * help with each platform's own flags from the settings table, what a signal does, and
 * usage errors. The real entries are run as processes in test/node/processes.test.ts and
 * test/deno/processes.test.ts.
 */
import { parseArgs } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConnectOptions, KeepaliveClient } from '../../runtime/client/index.ts';
import { type CommandLinePlatform, type ParseArgs, runCommandLine, type RunningServer, type ServeRequest, type Signal } from '../../runtime/server/index.ts';

let out: string[];
let err: string[];
beforeEach(() => {
  out = [];
  err = [];
  vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
  vi.spyOn(console, 'error').mockImplementation((line: string) => void err.push(line));
});
afterEach(() => vi.restoreAllMocks());

function fakeServer(durable: string | null): RunningServer & { closedWith: unknown[] } {
  const closedWith: unknown[] = [];
  return {
    url: 'http://127.0.0.1:1',
    wsUrl: 'ws://127.0.0.1:1/connect',
    tcpUrl: null,
    durable,
    cluster: null,
    restored: [],
    host: { size: 2, defaults: { advertiseTimeout: 3000 } },
    app: { routes: [] },
    closedWith,
    close: (reason?: string, options?: unknown) => (closedWith.push(options), Promise.resolve()),
  } as unknown as RunningServer & { closedWith: unknown[] };
}

function platform(name: 'node' | 'deno', argv: string[], env: Record<string, string> = {}) {
  const signals: ((signal: Signal) => void)[] = [];
  const exits: number[] = [];
  const served: ServeRequest[] = [];
  const connected: [string, ConnectOptions][] = [];
  const server = fakeServer(name === 'node' ? '/tmp/state.db' : null);
  const stopped = vi.fn();
  const fake: CommandLinePlatform = {
    name,
    argv,
    env: (key) => env[key],
    parseArgs: parseArgs as ParseArgs,
    usage: name === 'node' ? { program: 'keepalive', serve: 'npm start', connect: 'npm run connect' } : { program: 'main.ts', serve: 'deno task start', connect: 'deno task connect' },
    ...(name === 'deno' ? { runsOn: 'Deno' } : {}),
    bare: name === 'node' ? 'help' : 'serve',
    async serve(request) {
      served.push(request);
      return { server, state: 'somewhere', keeping: () => `keeping ${server.host.size} connection(s)`, stopped };
    },
    connect(url, options) {
      connected.push([url, options]);
      return { dialect: options.dialect ?? 'keepalive', addEventListener: () => {}, close: () => {} } as unknown as KeepaliveClient;
    },
    onSignal: (listener) => void signals.push(listener),
    exit: (code) => void exits.push(code),
    clientExit: (code) => void exits.push(code),
  };
  return { fake, signals, exits, served, connected, server, stopped };
}

describe('one command line for Node and Deno', () => {
  it('prints the help with each platform\'s own flags, as the settings table says', async () => {
    const node = platform('node', []);
    await runCommandLine(node.fake);
    const nodeHelp = out.join('\n');
    expect(nodeHelp).toMatch(/^Usage: keepalive serve \[options\] \| keepalive connect URL \[options\]/);
    for (const flag of ['--state PATH', 'KEEPALIVE_STATE', '--dialect D', '--require-keepalive', 'tcp://host[:16509]', '3 libvirt daemon without keepalive']) expect(nodeHelp).toContain(flag);
    for (const flag of ['--kv', '--no-tcp']) expect(nodeHelp).not.toContain(flag);

    out = [];
    await runCommandLine(platform('deno', ['help']).fake);
    const denoHelp = out.join('\n');
    expect(denoHelp).toContain('Usage: main.ts [serve] [options]');
    expect(denoHelp).toContain('Serves keepalive peers on Deno:');
    for (const flag of ['--kv PATH', 'KEEPALIVE_KV', '--kv-prefix P', 'KEEPALIVE_KV_PREFIX', '--no-tcp']) expect(denoHelp).toContain(flag);
    for (const flag of ['--state', '--dialect', '--require-keepalive', '16509']) expect(denoHelp).not.toContain(flag);
  });

  it('serves by default where the platform says so, else refuses what is not a command', async () => {
    const deno = platform('deno', ['--port', '0', '--no-tcp']);
    await runCommandLine(deno.fake);
    expect(deno.served).toHaveLength(1);
    expect(deno.served[0]!.options).toMatchObject({ port: 0, tcpPort: null });

    const node = platform('node', ['--port', '0']);
    await runCommandLine(node.fake);
    expect(node.served).toEqual([]);
    expect(err).toEqual(['keepalive: unknown command "--port": use serve or connect (--help)']);
    expect(node.exits).toEqual([1]);
  });

  it('reads a platform\'s own setting like any other, the flag over the variable; another platform\'s is an unknown flag', async () => {
    const flag = platform('node', ['serve', '--state', 'a.db'], { KEEPALIVE_STATE: 'b.db' });
    await runCommandLine(flag.fake);
    expect(flag.served[0]!.own('statePath')).toBe('a.db');
    const env = platform('node', ['serve'], { KEEPALIVE_STATE: 'b.db' });
    await runCommandLine(env.fake);
    expect(env.served[0]!.own('statePath')).toBe('b.db');

    const deno = platform('deno', ['serve', '--state', 'a.db']);
    await runCommandLine(deno.fake);
    expect(deno.served).toEqual([]);
    expect(err.at(-1)).toMatch(/^keepalive: .*--state/);
    expect(deno.exits).toEqual([1]);
  });

  it('on a signal says what happens to the connections, closes the server with the signal and exits 0, once', async () => {
    const node = platform('node', ['serve', '--port', '0']);
    await runCommandLine(node.fake);
    expect(out[0]).toMatch(/^keepalive server \(5000 ms, count 5, pings on\)$/);
    expect(out).toContain('  state      somewhere');
    node.signals.forEach((listener) => listener('SIGTERM'));
    node.signals.forEach((listener) => listener('SIGINT'));
    await vi.waitFor(() => expect(node.exits).toEqual([0]));
    expect(out.filter((line) => line.startsWith('SIG'))).toEqual(['SIGTERM: keeping 2 connection(s)']);
    expect(node.server.closedWith).toEqual([{ signal: 'SIGTERM' }]);
    expect(node.stopped).toHaveBeenCalledOnce();
  });

  it('passes the libvirt dialect only where the platform offers it, and checks its flags', async () => {
    const node = platform('node', ['connect', '--dialect', 'libvirt', '--require-keepalive', '/run/libvirt-sock']);
    await runCommandLine(node.fake);
    expect(node.connected[0]).toMatchObject(['/run/libvirt-sock', { dialect: 'libvirt', requireKeepalive: true, reconnect: false }]);

    const deno = platform('deno', ['connect', 'ws://127.0.0.1:1/connect']);
    await runCommandLine(deno.fake);
    expect(deno.connected[0]![1]).not.toHaveProperty('dialect');

    for (const [argv, message] of [
      [['connect'], 'keepalive: connect needs exactly one URL (ws://host:port/connect, tcp://host:port, or with --dialect libvirt a libvirt socket path)'],
      [['connect', '--require-keepalive', 'ws://x'], 'keepalive: --require-keepalive needs --dialect libvirt'],
      [['connect', '--dialect', 'x', 'ws://x'], 'keepalive: --dialect must be keepalive or libvirt, got "x"'],
    ] as const) {
      err = [];
      const refused = platform('node', [...argv]);
      await runCommandLine(refused.fake);
      expect(err).toEqual([message]);
      expect(refused.exits).toEqual([1]);
    }
    err = [];
    await runCommandLine(platform('deno', ['connect']).fake);
    expect(err).toEqual(['keepalive: connect needs exactly one URL (ws://host:port/connect or tcp://host:port)']);
  });
});
