/**
 * A node-redis connection to one Redis server of a topology (topology.ts), and a question
 * asked on a connection of its own. Every connection is made here, with the URL's
 * credentials and TLS, and never reconnects by itself: the link decides where to go after
 * a cut (redis.ts), since after a failover the same address may be the wrong server.
 */
import { createClient } from 'redis';
import { addressText, type RedisAddress, type RedisTarget } from '../config/index.ts';

export type ServerClient = ReturnType<typeof createClient>;

/** How long one node or Sentinel may take to answer where the primary is: a dead one is skipped, not waited for. */
export const ASK_TIMEOUT_MS = 500;

/** How a connection reaches a server: the target's credentials and TLS (the Redis servers'; `bare`: none, as for a Sentinel). */
export function serverClient(target: RedisTarget, address: RedisAddress, options: { connectTimeout: number; bare?: boolean }): ServerClient {
  const credentials = options.bare ? {} : { ...(target.username !== undefined ? { username: target.username } : {}), ...(target.password !== undefined ? { password: target.password } : {}) };
  const socket = { host: address.host, port: address.port, connectTimeout: options.connectTimeout, reconnectStrategy: false as const };
  return createClient({
    ...credentials,
    ...(target.topology === 'single' && target.database !== 0 ? { database: target.database } : {}),
    // A command sent while the connection is away fails at once: nothing stale is replayed later.
    disableOfflineQueue: true,
    socket: target.tls ? { ...socket, tls: true as const } : socket,
  });
}

/** Asks one server `commands` in turn on a connection of its own; rejects if it does not answer all within `timeout` ms. */
export async function ask(target: RedisTarget, address: RedisAddress, commands: readonly (readonly string[])[], options: { timeout: number; bare?: boolean }): Promise<unknown[]> {
  const client = serverClient(target, address, { connectTimeout: options.timeout, ...(options.bare ? { bare: true } : {}) });
  client.on('error', () => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${addressText(address)} did not answer within ${options.timeout} ms`)), options.timeout);
  });
  const answered = (async () => {
    await client.connect();
    const answers: unknown[] = [];
    for (const command of commands) answers.push(await client.sendCommand([...command]));
    return answers;
  })();
  // Whichever loses the race must not reject unheard.
  answered.catch(() => {});
  try {
    return await Promise.race([answered, late]);
  } finally {
    clearTimeout(timer);
    client.destroy();
  }
}
