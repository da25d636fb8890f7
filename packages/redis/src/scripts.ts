/**
 * The Lua scripts: each runs atomically in Redis, which is what makes the fencing token and
 * the order of a room's messages hold across processes. Tokens are formatted with `%.0f` so
 * that the string a script stores is the string a client compares with.
 *
 * A session is a hash (`e` token, `o` owner process, `i` peer id, `c` last client seq, `l` last
 * server seq, `f` seq of the first kept envelope, `x` lossy, `r` rooms and cursors, packed) and
 * a list of its kept envelopes (`[t, d]` packed, the first numbered `f`).
 */

/** A token no earlier claim can have had: Redis' clock in microseconds. */
const newToken = `local t = redis.call('TIME')
local epoch = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))`

/**
 * KEYS: hash, list. ARGV: owner, ttl, peer id, c, l, f, lossy, rooms, envelopes...
 * Returns the token, or 0 when the session exists (another process holds it).
 */
export const createScript = `if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
${newToken}
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'e', epoch, 'o', ARGV[1], 'i', ARGV[3], 'c', ARGV[4], 'l', ARGV[5],
  'f', ARGV[6], 'x', ARGV[7], 'r', ARGV[8])
for i = 9, #ARGV, 500 do
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 499, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return epoch`

/**
 * KEYS: hash, list. ARGV: owner, ttl, revoke channel prefix, session id.
 * Raises the token, tells the previous owner (another process) to let go, and returns
 * { previous token, token, {i, c, l, f, x, r}, envelopes }, or nil when there is no session.
 */
export const claimScript = `if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local previous = redis.call('HGET', KEYS[1], 'e')
local owner = redis.call('HGET', KEYS[1], 'o')
local epoch = string.format('%.0f', tonumber(previous) + 1)
redis.call('HSET', KEYS[1], 'e', epoch, 'o', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
if owner ~= ARGV[1] then redis.call('PUBLISH', ARGV[3] .. owner, ARGV[4] .. ' ' .. epoch) end
return { previous, epoch, redis.call('HMGET', KEYS[1], 'i', 'c', 'l', 'f', 'x', 'r'),
  redis.call('LRANGE', KEYS[2], 0, -1) }`

/**
 * KEYS: hash, list. ARGV: token, c, acknowledged, lossy, rooms ('' unchanged), ttl, then
 * seq and envelope pairs. Returns 1, 0 when the token is not current (fenced), -1 when the
 * session is gone. Idempotent: an envelope is appended only as the next seq, the client seq
 * only grows, so a commit applied twice (resent after a lost reply) changes nothing more.
 */
export const commitScript = `local e = redis.call('HGET', KEYS[1], 'e')
if not e then return -1 end
if e ~= ARGV[1] then return 0 end
local c = tonumber(ARGV[2])
if c > tonumber(redis.call('HGET', KEYS[1], 'c')) then redis.call('HSET', KEYS[1], 'c', ARGV[2]) end
local f = tonumber(redis.call('HGET', KEYS[1], 'f'))
local l = tonumber(redis.call('HGET', KEYS[1], 'l'))
local a = tonumber(ARGV[3])
if a >= l then
  redis.call('DEL', KEYS[2])
  l = a
  f = a + 1
elseif a >= f then
  redis.call('LTRIM', KEYS[2], a - f + 1, -1)
  f = a + 1
end
for i = 7, #ARGV, 2 do
  if tonumber(ARGV[i]) == l + 1 then
    redis.call('RPUSH', KEYS[2], ARGV[i + 1])
    l = l + 1
  end
end
redis.call('HSET', KEYS[1], 'f', string.format('%.0f', f), 'l', string.format('%.0f', l))
if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'x', '1') end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'r', ARGV[5]) end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return 1`

/** KEYS: hash, list. ARGV: token. Deletes the session if the token is current. */
export const releaseScript = `if redis.call('HGET', KEYS[1], 'e') == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
end
return 1`

/**
 * KEYS: the room's history stream, the send's idempotency key ('' for none). ARGV: channel,
 * max length, ttl, message, idempotency ttl. Returns the new id, or nil for a send whose key
 * was seen already.
 * Appends to the history and publishes in one step, so that every process receives a room's
 * messages in the order of their ids; each carries the id before it (`prev`), so that a gap
 * (a missed publication, or history trimmed past a cursor) is seen.
 */
export const publishScript = `if KEYS[2] ~= '' then
  if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[5]) then return false end
end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local prev = '0-0'
if #last > 0 then prev = last[1][1] end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'p', prev, 'm', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[1], 'M' .. id .. ' ' .. prev .. ' ' .. ARGV[4])
return id`

/**
 * KEYS: the room's presence hash, the process's presence set, the set of processes, the
 * process's heartbeat. ARGV: peer, process, channel, room, process ttl. Publishes a join when
 * the peer was not present (a session moving between processes stays present). The process is
 * registered (and its heartbeat set) here too: one that dies before its first heartbeat is
 * cleaned up all the same.
 */
export const joinScript = `redis.call('SADD', KEYS[3], ARGV[2])
redis.call('SET', KEYS[4], '1', 'PX', ARGV[5])
local added = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1] .. ' ' .. ARGV[4])
if added == 1 then redis.call('PUBLISH', ARGV[3], 'J' .. ARGV[1]) end
return added`

/**
 * KEYS: the room's presence hash, the process's presence set. ARGV: peer, process, channel,
 * room, moved ('1': the session lives on in another process, which is its presence now).
 */
export const leaveScript = `redis.call('SREM', KEYS[2], ARGV[1] .. ' ' .. ARGV[4])
if ARGV[5] == '1' then return 0 end
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('PUBLISH', ARGV[3], 'L' .. ARGV[1])
  return 1
end
return 0`

/**
 * KEYS: the set of processes. ARGV: key prefix. Every process whose heartbeat key expired:
 * its members leave their rooms (those that moved to another process stay), and it is
 * forgotten. Returns how many processes were found dead.
 */
export const reapScript = `local dead = 0
for _, pid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. 'proc:' .. pid) == 0 then
    local set = ARGV[1] .. 'pm:' .. pid
    for _, entry in ipairs(redis.call('SMEMBERS', set)) do
      local at = string.find(entry, ' ', 1, true)
      local peer = string.sub(entry, 1, at - 1)
      local room = string.sub(entry, at + 1)
      local key = ARGV[1] .. 'p:' .. room
      if redis.call('HGET', key, peer) == pid then
        redis.call('HDEL', key, peer)
        redis.call('PUBLISH', ARGV[1] .. 'c:' .. room, 'L' .. peer)
      end
    end
    redis.call('DEL', set)
    redis.call('SREM', KEYS[1], pid)
    dead = dead + 1
  end
end
return dead`
