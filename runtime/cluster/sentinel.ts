/**
 * A hub under Sentinel uses the primary the Sentinels name (`SENTINEL
 * GET-MASTER-ADDR-BY-NAME`); after a failover they name the promoted replica. Sentinels are
 * asked without the URL's credentials (those are the Redis servers'); one that does not
 * answer, or does not know the name, is asked last next time.
 */
import { addressText, type RedisAddress, type RedisTarget } from '../config/index.ts';
import { ask, ASK_TIMEOUT_MS } from './server-client.ts';

type SentinelTarget = Extract<RedisTarget, { topology: 'sentinel' }>;

export function sentinelPrimary(target: SentinelTarget): () => Promise<RedisAddress> {
  let sentinels: RedisAddress[] = [...target.sentinels];
  return async () => {
    const failures: string[] = [];
    for (const sentinel of [...sentinels]) {
      try {
        const [reply] = await ask(target, sentinel, [['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', target.master]], { timeout: ASK_TIMEOUT_MS, bare: true });
        if (Array.isArray(reply) && reply.length === 2) return { host: String(reply[0]), port: Number(reply[1]) };
        failures.push(`${addressText(sentinel)}: no primary named "${target.master}"`);
      } catch (error) {
        failures.push(`${addressText(sentinel)}: ${error instanceof Error ? error.message : String(error)}`);
      }
      sentinels = [...sentinels.filter((s) => s !== sentinel), sentinel];
    }
    throw new Error(`no Sentinel named the primary "${target.master}" (${failures.join('; ')})`);
  };
}
