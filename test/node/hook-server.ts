/**
 * A Node server with hooks, for the crash tests: every hook call is appended to the file
 * HOOK_LOG as one JSON line. With CRASH_IN_ONDEAD set, the onDead hook kills its own process
 * (SIGKILL) before it records anything: a crash after the verdict was written, before the
 * hook finished. Prints the same banner lines as the CLI.
 */
import { appendFileSync } from 'node:fs';
import { startServer } from '../../adapters/node/server.ts';

const env = (name: string) => process.env[name] ?? '';
const record = (hook: string, id: string, peer: string | null, detail: unknown = null) =>
  appendFileSync(env('HOOK_LOG'), `${JSON.stringify({ hook, id, peer, detail, pid: process.pid })}\n`);

const server = await startServer({
  port: Number(env('PORT') || 0),
  tcpPort: 0,
  interval: Number(env('INTERVAL')),
  count: Number(env('COUNT')),
  statePath: env('STATE'),
  log: (line) => console.log(line),
  hooks: {
    onOpen: (conn) => record('onOpen', conn.id, conn.peer),
    onDead: (conn, verdict) => {
      if (env('CRASH_IN_ONDEAD')) process.kill(process.pid, 'SIGKILL');
      record('onDead', conn.id, conn.peer, verdict);
    },
    onClose: (conn, info) => record('onClose', conn.id, conn.peer, info),
  },
});
console.log(`  WebSocket  ${server.wsUrl}`);
console.log(`  TCP        ${server.tcpUrl}`);
console.log(`  health     ${server.url}/healthz`);
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
