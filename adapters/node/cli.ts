#!/usr/bin/env node
/**
 * `keepalive serve` runs the Node server; `keepalive connect URL` runs one client and
 * prints every keepalive message until the connection ends. The program (commands, help,
 * flags, signals, exit codes) is runtime/server/program.ts; this is Node's side of it.
 */
import { parseArgs } from 'node:util';
import { connect } from './client.ts';
import { startServer } from './server.ts';
import { runCommandLine, type ParseArgs } from '../../runtime/server/index.ts';

await runCommandLine({
  name: 'node',
  argv: process.argv.slice(2),
  env: (name) => process.env[name],
  parseArgs: parseArgs as ParseArgs,
  usage: { program: 'keepalive', serve: 'npm start -- [options]', connect: 'npm run connect -- URL [options]' },
  bare: 'help',
  async serve({ options, own }) {
    const statePath = own('statePath');
    const server = await startServer({ ...options, ...(typeof statePath === 'string' ? { statePath } : {}) });
    return {
      server,
      state: server.durable ? `${server.durable}  (${server.restored.length} connection(s) restored)` : 'in memory',
      keeping: () => `keeping ${server.host.size} connection(s) in ${server.durable} for the next start`,
    };
  },
  connect,
  onSignal(listener) {
    process.once('SIGINT', () => listener('SIGINT'));
    process.once('SIGTERM', () => listener('SIGTERM'));
  },
  exit: (code) => process.exit(code),
  // Set, not forced: the process ends once the socket has said goodbye.
  clientExit: (code) => void (process.exitCode = code),
});
