/**
 * Where a clustered hub lives in Redis, and the scripts that change it atomically. Every
 * key of hub H starts `keepalive:{H}:` (one hash slot per hub):
 *
 *   nodes            sorted set: node -> lease expiry (ms, Redis's clock)
 *   conns:<node>     hash: connection id -> its stored record (JSON), for the node that holds it
 *   events:<node>    hash: event id -> its outbox record (JSON): what that node still owes
 *   sessions         hash: session secret's hash -> connection id
 *   reaped:<node>    set: the ids a survivor took from <node> (it lets go of them if it was alive after all)
 *
 * Channels: `keepalive:{H}:hub` (presence rows, broadcasts) and `keepalive:{H}:to:<node>`
 * (one process: send, close, hand over). Scripts read Redis's own clock (`TIME`), so the
 * processes' clocks never decide whose lease ran out.
 */
export function hubPrefix(hub: string): string {
  return `keepalive:{${hub}}:`;
}

export const keys = {
  nodes: (p: string) => `${p}nodes`,
  conns: (p: string, node: string) => `${p}conns:${node}`,
  events: (p: string, node: string) => `${p}events:${node}`,
  sessions: (p: string) => `${p}sessions`,
  hubChannel: (p: string) => `${p}hub`,
  nodeChannel: (p: string, node: string) => `${p}to:${node}`,
};

/**
 * A script's command. Scripts compute the keys they touch from the prefix (ARGV[1]); they
 * declare the hub's `nodes` key, which shares the hash tag of all the others, so a Redis
 * Cluster checks the script runs on the primary serving the hub's slot (MOVED otherwise).
 */
export function script(source: string, prefix: string, ...args: (string | number)[]): (string | number)[] {
  return ['EVAL', source, 1, keys.nodes(prefix), prefix, ...args];
}

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * ARGV: prefix, node, lease ms. Renews the node's lease. Returns Redis's time, the ids a
 * survivor took from this node since (then forgotten), whether the lease was there before,
 * and every node with its lease expiry.
 */
export const RENEW = `${NOW}
local p, me, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local reaped = redis.call('SMEMBERS', p .. 'reaped:' .. me)
if #reaped > 0 then redis.call('DEL', p .. 'reaped:' .. me) end
local had = redis.call('ZSCORE', p .. 'nodes', me)
redis.call('ZADD', p .. 'nodes', now + ttl, me)
return {tostring(now), reaped, had and '1' or '0', redis.call('ZRANGE', p .. 'nodes', 0, -1, 'WITHSCORES')}`;

/**
 * ARGV: prefix, dead node, taker. Only if the dead node's lease has run out: moves its
 * connections and owed events to the taker, drops its lease, and notes the ids taken for
 * the dead node (should it come back). Returns nil, or {lease expiry, now, conns, events}
 * as flat field/value lists. One script: two survivors can never both take one node.
 *
 * A connection or event some live node's hash holds already is not taken, only dropped from
 * the dead node's: a takeover the old primary made just before it died, and never passed
 * to the replica that took over, comes back as the dead node's again, while the survivor
 * that made it wrote what it took again under its own name when Redis was back.
 */
export const TAKEOVER = `${NOW}
local p, dead, me = ARGV[1], ARGV[2], ARGV[3]
local lease = redis.call('ZSCORE', p .. 'nodes', dead)
if not lease or tonumber(lease) > now then return false end
redis.call('ZREM', p .. 'nodes', dead)
local live = redis.call('ZRANGE', p .. 'nodes', 0, -1)
local function unheld(kind)
  local all, out = redis.call('HGETALL', p .. kind .. dead), {}
  for i = 1, #all, 2 do
    local held = false
    for _, node in ipairs(live) do
      if redis.call('HEXISTS', p .. kind .. node, all[i]) == 1 then held = true break end
    end
    if not held then out[#out + 1] = all[i]; out[#out + 1] = all[i + 1] end
  end
  return out
end
local conns, events = unheld('conns:'), unheld('events:')
for i = 1, #conns, 2 do
  redis.call('HSET', p .. 'conns:' .. me, conns[i], conns[i + 1])
  redis.call('SADD', p .. 'reaped:' .. dead, conns[i])
end
for i = 1, #events, 2 do redis.call('HSET', p .. 'events:' .. me, events[i], events[i + 1]) end
redis.call('DEL', p .. 'conns:' .. dead, p .. 'events:' .. dead)
if #conns > 0 then redis.call('PEXPIRE', p .. 'reaped:' .. dead, 3600000) end
return {tostring(lease), tostring(now), conns, events}`;

/**
 * ARGV: prefix, session hash. Which connection the session belongs to and which live node
 * holds it: nil, {id}, or {id, node, lease expiry, now}.
 */
export const LOCATE = `${NOW}
local p, hash = ARGV[1], ARGV[2]
local id = redis.call('HGET', p .. 'sessions', hash)
if not id then return false end
local nodes = redis.call('ZRANGE', p .. 'nodes', 0, -1, 'WITHSCORES')
for i = 1, #nodes, 2 do
  if redis.call('HEXISTS', p .. 'conns:' .. nodes[i], id) == 1 then return {id, nodes[i], nodes[i + 1], tostring(now)} end
end
return {id}`;

/** ARGV: prefix, from, to, id, record. A live handover: the record moves from one node's hash to the other's. */
export const HANDOVER = `redis.call('HDEL', ARGV[1] .. 'conns:' .. ARGV[2], ARGV[4])
redis.call('HSET', ARGV[1] .. 'conns:' .. ARGV[3], ARGV[4], ARGV[5])
return 1`;

/** A hash as pairs: HGETALL's reply (a map from node-redis, a flat list from a script). */
export function pairs(flat: unknown): [string, string][] {
  if (flat !== null && typeof flat === 'object' && !Array.isArray(flat)) {
    return Object.entries(flat as Record<string, unknown>).map(([field, value]) => [field, String(value)]);
  }
  const list = Array.isArray(flat) ? (flat as unknown[]).map(String) : [];
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < list.length; i += 2) out.push([list[i]!, list[i + 1]!]);
  return out;
}
