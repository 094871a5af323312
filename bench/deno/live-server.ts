/**
 * Figure 9's Deno server: the Deno adapter's default server, served to
 * bench/workers/live-server.ts (which measures it as it measures the Node one) when that
 * script runs under Deno with the kind `deno`.
 */
import { startServer } from '../../adapters/deno/server.ts';
import { serveAdapter, type Served } from '../lib/served.ts';

export function serveDeno(interval: number): Promise<Served> {
  return serveAdapter(startServer, interval);
}
