/**
 * The processes of a clustered hub in the topology tests: Node (test/cluster/node-hub.ts)
 * or Deno (test/cluster/deno-hub.ts) on the same Redis URL, each its own process so it can
 * be SIGKILLed, with what it says on `/presence` and `/healthz` and the deaths and closes
 * it printed.
 */
import { DENO } from '../deno/helpers.ts';
import { NODE, spawnProcess, withUrls } from '../node/helpers.ts';

export type HubProcess = Awaited<ReturnType<typeof withUrls>> & { readonly name: string; readonly runtime: 'node' | 'deno'; readonly port: number };

export interface PresenceRow {
  connection: string;
  peer: string | null;
  node: string;
  state: string;
}

export interface Health {
  ok: boolean;
  connections: number;
  cluster: { node: string; redis: 'up' | 'down'; nodes: number; topology: string; redisAt: string; failovers: number; failedOverAt?: number };
}

export async function startHubProcess(runtime: 'node' | 'deno', name: string, redis: string, settings: { interval: number; count: number }): Promise<HubProcess> {
  const env = { REDIS: redis, NODE: name, INTERVAL: String(settings.interval), COUNT: String(settings.count), NO_COLOR: '1' };
  const spawned =
    runtime === 'node'
      ? spawnProcess(NODE, ['test/cluster/node-hub.ts'], env)
      : spawnProcess(DENO, ['run', '--allow-net', '--allow-env', '--allow-read', 'test/cluster/deno-hub.ts'], env);
  const urls = await withUrls(spawned);
  return Object.assign(urls, { name, runtime, port: Number(new URL(urls.http).port) });
}

export async function presence(process: HubProcess): Promise<PresenceRow[]> {
  return (await (await fetch(`${process.http}/presence`)).json()) as PresenceRow[];
}

export async function health(process: HubProcess): Promise<Health> {
  return (await (await fetch(`${process.http}/healthz`)).json()) as Health;
}

/** The connection ids of the `EVENT type ID` lines among `lines` (a process's stdout, or part of it), in order. */
export function events(lines: readonly string[], type: 'dead' | 'closed'): string[] {
  const prefix = `EVENT ${type} `;
  return lines.filter((line) => line.startsWith(prefix)).map((line) => line.slice(prefix.length));
}
