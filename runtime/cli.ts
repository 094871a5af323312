/**
 * What the Node and Deno command lines share: the server's options from flags and
 * environment (runtime/settings.ts), the help text of those flags, and the banner.
 * Platform-free: each adapter parses its own argv (`node:util` parseArgs) and reads its
 * own environment, then hands them here.
 */
import type { Host } from './host.ts';
import type { RunningServer, ServerOptions } from './hub/server.ts';
import { argsSource, hubSettings, listenSettings, SETTING_FLAGS, settingsHelp, type HubSettings } from './settings.ts';

/** Reads one environment variable (`process.env`, `Deno.env.get`). */
export type Env = (name: string) => string | undefined;

/** The `parseArgs` options every `serve` command takes (an adapter adds its own). */
export const SERVE_FLAGS = {
  ...SETTING_FLAGS,
  'no-inspector': { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The `parseArgs` options every `connect` command takes (Node adds the libvirt dialect's). */
export const CONNECT_FLAGS = {
  interval: { type: 'string' },
  count: { type: 'string' },
  'no-ping': { type: 'boolean' },
  resume: { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The help lines of the flags in `SERVE_FLAGS`. */
export const SERVE_FLAGS_HELP = `${settingsHelp()}
  --no-inspector          do not serve the inspector page at /inspect (served by default on
                          localhost, or anywhere with a token)
  --quiet                 do not log connections
  -h, --help              show this help`;

/** A server's options from parsed flags, then the environment, then the defaults. */
export function serveOptions(values: Record<string, string | boolean | undefined>, env: Env): ServerOptions & HubSettings {
  const source = argsSource(values, env);
  const settings = hubSettings(source);
  const listen = listenSettings(source);
  const inspector = values['no-inspector'] ? { inspector: false } : {};
  return { ...settings, ...listen, ...inspector };
}

/** hh:mm:ss.mmm, as every log and protocol line starts. */
export const clock = (at: number): string => new Date(at).toISOString().slice(11, 23);

/** "5000 ms, count 5, pings on" */
export function describeKeepalive(settings: Pick<HubSettings, 'interval' | 'count' | 'sendPings'>): string {
  return `${settings.interval} ms, count ${settings.count}, ${settings.sendPings ? 'pings on' : 'pings off'}`;
}

/** The banner's limits line, from what the host really applies. */
export function describeLimits(host: Host, settings: Pick<HubSettings, 'maxConnections' | 'maxPingsPerInterval'>): string {
  const advertiseTimeout = host.defaults.advertiseTimeout;
  const advertise = advertiseTimeout ? `ADVERTISE within ${advertiseTimeout} ms` : 'no ADVERTISE deadline';
  const cap = settings.maxConnections ? `at most ${settings.maxConnections} connections` : 'no connection cap';
  const pings = settings.maxPingsPerInterval;
  return `${advertise}, ${cap}, ${pings ? `${pings} PINGs per interval` : 'no PING limit'}`;
}

/** What a started server prints, the same on every runtime; `title` names it (`note` after its settings), `state` says where connections are kept. */
export function serverBanner(server: RunningServer, settings: HubSettings, title: string, state: string, note?: string): string[] {
  const token = settings.token !== undefined;
  const lines = [
    `${title} (${describeKeepalive(settings)}${note ? `, ${note}` : ''})`,
    `  WebSocket  ${server.wsUrl}`,
    ...(server.tcpUrl ? [`  TCP        ${server.tcpUrl}  (libvirt frames)`] : []),
    `  actors     ${server.url}/actors${token ? '  (token required)' : ''}`,
    `  presence   ${server.url}/presence${token ? '  (token required)' : ''}`,
  ];
  if (settings.webhook) lines.push(`  webhook    ${settings.webhook.url}${settings.webhook.secret ? '  (signed)' : '  (unsigned: set --webhook-secret)'}`);
  lines.push(`  health     ${server.url}/healthz`, `  limits     ${describeLimits(server.host, settings)}`);
  if (server.app.routes.some((route) => route.path === '/inspect')) lines.push(`  inspector  ${server.url}/inspect${token ? '?token=TOKEN' : ''}`);
  else lines.push('  inspector  off: bind to localhost or set --token to serve /inspect');
  lines.push(`  state      ${state}`);
  return lines;
}
