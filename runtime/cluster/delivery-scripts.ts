/**
 * Where a clustered hub keeps delivery mode's windows in Redis, and the scripts that change
 * them. Beside the keys of keys.ts, under the hub's prefix (one hash slot):
 *
 *   dc:<id>     string: the connection's link counters (JSON)
 *   dw:<id>     hash: sequence number -> a message its holder sent and its peer has not acknowledged
 *   din:<id>    list: messages other processes sent it (sends and broadcasts), not yet taken
 *   dcl:<id>    list: messages its holder took from din:<id> and has not yet written into dw:<id>
 *   dnode       hash: connection id -> the node that holds it (delivery-mode connections only)
 *
 * A message is in exactly one of din, dcl and dw at any moment (APPLY writes a batch's
 * window entries and trims what they came from in one script), so whoever holds the
 * connection next (a handover, a takeover) finds each message once. Messages are `t<text>`
 * or `b<base64>`.
 *
 * Every script names the hub's nodes key as its one key: Redis Cluster routes a script by
 * its keys, and all of a hub's keys share its hash tag.
 */

/**
 * ARGV: prefix, node, then (op, id, a, b) groups, applied in order:
 * W seq value (a message into the window), D seq (acknowledged), C counters (JSON),
 * H (this node holds id now), T n (the first n taken messages are in the window now),
 * E (the window emptied: renumbered), X (the connection ended: everything goes).
 */
export const APPLY = `local p, me = ARGV[1], ARGV[2]
for i = 3, #ARGV, 4 do
  local op, id, a, b = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if op == 'W' then redis.call('HSET', p .. 'dw:' .. id, a, b)
  elseif op == 'D' then redis.call('HDEL', p .. 'dw:' .. id, a)
  elseif op == 'C' then redis.call('SET', p .. 'dc:' .. id, a)
  elseif op == 'H' then redis.call('HSET', p .. 'dnode', id, me)
  elseif op == 'T' then redis.call('LTRIM', p .. 'dcl:' .. id, tonumber(a), -1)
  elseif op == 'E' then redis.call('DEL', p .. 'dw:' .. id)
  elseif op == 'X' then
    redis.call('DEL', p .. 'dw:' .. id, p .. 'dc:' .. id, p .. 'din:' .. id, p .. 'dcl:' .. id)
    redis.call('HDEL', p .. 'dnode', id)
  end
end
return 1`;

/** ARGV: prefix, id, message. Into the inbox of a delivery-mode connection; returns its holder, or nil (not one). */
export const SEND = `local node = redis.call('HGET', ARGV[1] .. 'dnode', ARGV[2])
if not node then return false end
redis.call('RPUSH', ARGV[1] .. 'din:' .. ARGV[2], ARGV[3])
return node`;

/**
 * ARGV: prefix, node, message, then ids left out. Into the inbox of every delivery-mode
 * connection another node holds; returns them as node, id pairs (flat).
 */
export const BROADCAST = `local p, me, message = ARGV[1], ARGV[2], ARGV[3]
local skip = {}
for i = 4, #ARGV do skip[ARGV[i]] = true end
local held = redis.call('HGETALL', p .. 'dnode')
local out = {}
for i = 1, #held, 2 do
  local id, node = held[i], held[i + 1]
  if node ~= me and not skip[id] then
    redis.call('RPUSH', p .. 'din:' .. id, message)
    out[#out + 1] = node
    out[#out + 1] = id
  end
end
return out`;

/**
 * ARGV: prefix, ids. Moves each inbox into its claimed list and returns every claimed
 * message, as {id, {message, ...}} pairs (flat): what the holder takes into the window.
 */
export const DRAIN = `local p = ARGV[1]
local out = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local inbox = p .. 'din:' .. id
  local items = redis.call('LRANGE', inbox, 0, -1)
  for j = 1, #items, 1000 do redis.call('RPUSH', p .. 'dcl:' .. id, unpack(items, j, math.min(j + 999, #items))) end
  if #items > 0 then redis.call('DEL', inbox) end
  local claimed = redis.call('LRANGE', p .. 'dcl:' .. id, 0, -1)
  if #claimed > 0 then
    out[#out + 1] = id
    out[#out + 1] = claimed
  end
end
return out`;

/** ARGV: prefix, ids. Each connection's counters and window: {id, counters or '', {seq, message, ...}} triples (flat). */
export const LOAD = `local p = ARGV[1]
local out = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local counters = redis.call('GET', p .. 'dc:' .. id)
  if counters then
    out[#out + 1] = id
    out[#out + 1] = counters
    out[#out + 1] = redis.call('HGETALL', p .. 'dw:' .. id)
  end
end
return out`;
