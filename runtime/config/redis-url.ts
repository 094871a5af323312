/**
 * What `--redis` (`cluster.redis`) names: one Redis, a Redis Cluster, or a primary under
 * Sentinel, in one URL. Read here, not in runtime/cluster/, because the settings check it
 * and reading settings (a Worker does) must never reach the Redis client.
 *
 *   redis://[USER[:PASSWORD]@]HOST[:PORT][/DB]              one Redis (rediss:// for TLS)
 *   redis+cluster://[USER[:PASSWORD]@]HOST:PORT[,HOST:PORT...]   a Redis Cluster, by seed nodes
 *   redis+sentinel://[USER[:PASSWORD]@]HOST:PORT[,HOST:PORT...]/MASTER   Sentinels, and the
 *                                                            name they know the primary by
 *
 * `rediss+cluster://` and `rediss+sentinel://` speak TLS to the Redis servers. User and
 * password are the Redis servers'; Sentinels are asked without them (a Sentinel has its
 * own, and most deployments leave it open on a private network).
 */

export type RedisTopology = 'single' | 'cluster' | 'sentinel';

export interface RedisAddress {
  readonly host: string;
  readonly port: number;
}

interface Common {
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
}

export type RedisTarget =
  | (Common & { readonly topology: 'single'; readonly address: RedisAddress; readonly database: number })
  | (Common & { readonly topology: 'cluster'; readonly seeds: readonly RedisAddress[] })
  | (Common & { readonly topology: 'sentinel'; readonly sentinels: readonly RedisAddress[]; readonly master: string });

const SCHEMES: Record<string, { topology: RedisTopology; tls: boolean }> = {
  redis: { topology: 'single', tls: false },
  rediss: { topology: 'single', tls: true },
  'redis+cluster': { topology: 'cluster', tls: false },
  'rediss+cluster': { topology: 'cluster', tls: true },
  'redis+sentinel': { topology: 'sentinel', tls: false },
  'rediss+sentinel': { topology: 'sentinel', tls: true },
};

/** What each accepted form looks like, for a usage error. */
export const REDIS_URL_FORMS = 'redis://HOST:PORT, redis+cluster://HOST:PORT[,HOST:PORT...] or redis+sentinel://HOST:PORT[,HOST:PORT...]/MASTER (rediss...:// for TLS)';

/** The URL read; a RangeError saying what is wrong otherwise. */
export function redisTarget(url: string): RedisTarget {
  // By hand, not `new URL`: a list of hosts is no URL's host.
  const match = /^([a-z+]+):\/\/(?:([^@/]*)@)?([^/?#]*)(\/[^?#]*)?$/i.exec(url);
  const scheme = match && SCHEMES[match[1]!.toLowerCase()];
  if (!match) throw new RangeError('not SCHEME://HOSTS[/PATH]');
  if (!scheme) throw new RangeError(`no Redis scheme "${match[1]}://"`);
  const [, , credentials, hosts, path = ''] = match;
  const common: Common = { tls: scheme.tls, ...userOf(credentials) };
  const addresses = hosts!.split(',').map((text) => addressOf(text, scheme.topology === 'single' ? 6379 : undefined));
  const name = decodeURIComponent(path.replace(/^\/+/, '').replace(/\/+$/, ''));
  switch (scheme.topology) {
    case 'single': {
      if (addresses.length !== 1) throw new RangeError('one Redis is one HOST:PORT; a list of them is redis+cluster:// or redis+sentinel://');
      if (name !== '' && !/^\d+$/.test(name)) throw new RangeError(`the path of a redis:// URL is a database number, got "${name}"`);
      return { topology: 'single', ...common, address: addresses[0]!, database: name === '' ? 0 : Number(name) };
    }
    case 'cluster':
      if (name !== '') throw new RangeError('a Redis Cluster has one database: redis+cluster://HOST:PORT[,HOST:PORT...] takes no path');
      return { topology: 'cluster', ...common, seeds: addresses };
    case 'sentinel':
      if (name === '') throw new RangeError('redis+sentinel:// names the primary as its Sentinels know it: redis+sentinel://HOST:PORT[,HOST:PORT...]/MASTER');
      return { topology: 'sentinel', ...common, sentinels: addresses, master: name };
  }
}

/** The URL as logs may show it: the password replaced. */
export function redactRedisUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');
}

export function addressText(address: RedisAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

function userOf(credentials: string | undefined): { username?: string; password?: string } {
  if (credentials === undefined || credentials === '') return {};
  const colon = credentials.indexOf(':');
  const username = decodeURIComponent(colon < 0 ? credentials : credentials.slice(0, colon));
  const password = colon < 0 ? undefined : decodeURIComponent(credentials.slice(colon + 1));
  // redis://:PASSWORD@ is the default user's password, as node-redis and redis-cli read it.
  return { ...(username !== '' ? { username } : {}), ...(password !== undefined ? { password } : {}) };
}

function addressOf(text: string, defaultPort: number | undefined): RedisAddress {
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(text);
  if (!match) throw new RangeError(`"${text}" is not HOST:PORT`);
  const host = match[1]!.replace(/^\[|\]$/g, '');
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  if (port === undefined) throw new RangeError(`"${text}" needs its port: HOST:PORT`);
  if (port < 1 || port > 65535) throw new RangeError(`"${text}": a port is 1 to 65535`);
  return { host, port };
}
