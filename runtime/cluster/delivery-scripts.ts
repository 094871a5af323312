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

/**
 * ARGV: prefix, then what this process sent to connections it does not hold, in the order it
 * sent them, one turn's worth:
 *   S id message        a send: into the connection's inbox if it speaks delivery mode
 *   P id message        a send into the inbox whoever holds it (the sender is taking it in)
 *   B message n ids...  a broadcast: into every delivery-mode connection's inbox but those n
 * Returns one reply per op, in order: a send's holder ('' when the connection is not in
 * delivery mode: it goes by pub/sub), '' for P, and a broadcast's {node, id, ...} pairs (flat)
 * to nudge.
 */
export const OUTBOX = `local p = ARGV[1]
local out = {}
local i = 2
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'S' or op == 'P' then
    local id, message = ARGV[i + 1], ARGV[i + 2]
    local node = redis.call('HGET', p .. 'dnode', id)
    if op == 'P' or node then redis.call('RPUSH', p .. 'din:' .. id, message) end
    out[#out + 1] = (op == 'S' and node) or ''
    i = i + 3
  else
    local message, n = ARGV[i + 1], tonumber(ARGV[i + 2])
    local skip = {}
    for j = 1, n do skip[ARGV[i + 2 + j]] = true end
    local held = redis.call('HGETALL', p .. 'dnode')
    local pairs_ = {}
    for j = 1, #held, 2 do
      if not skip[held[j]] then
        redis.call('RPUSH', p .. 'din:' .. held[j], message)
        pairs_[#pairs_ + 1] = held[j + 1]
        pairs_[#pairs_ + 1] = held[j]
      end
    end
    out[#out + 1] = pairs_
    i = i + 3 + n
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
