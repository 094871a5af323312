/**
 * What a clustered process counts, for `/metrics`, logs, tests and the bench, and the link
 * its own parts use, which counts their commands. The stores' writes go through the bare
 * link and are not counted (as before the cluster was split; figure 11 counts every
 * command from Redis's INFO instead).
 */
import type { RedisLink } from './link.ts';

export interface ClusterStats {
  /** Dead processes whose connections this one took over, and how many connections in all. */
  takeovers: number;
  taken: number;
  /** Connections handed to another process their peer reattached to. */
  handovers: number;
  /** Times this process wrote all it holds again (Redis came back, or lost it). */
  reregistered: number;
  published: number;
  commands: number;
  /** Round trip of the last lease renewal. */
  renewRoundTripMs: number;
}

export function newStats(): ClusterStats {
  return { takeovers: 0, taken: 0, handovers: 0, reregistered: 0, published: 0, commands: 0, renewRoundTripMs: 0 };
}

/** `link`, with each command and publish counted in `stats`. */
export function countedLink(link: RedisLink, stats: ClusterStats): RedisLink {
  return {
    url: link.url,
    command: <T>(args: readonly (string | number)[]) => {
      stats.commands++;
      return link.command<T>(args);
    },
    publish: (channel, message) => {
      stats.published++;
      stats.commands++;
      return link.publish(channel, message);
    },
    subscribe: (channel, listener) => link.subscribe(channel, listener),
    watch: (health) => link.watch(health),
    answered: () => link.answered(),
    server: () => link.server(),
    close: () => link.close(),
  };
}
