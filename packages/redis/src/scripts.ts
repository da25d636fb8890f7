/**
 * The Lua scripts: each runs atomically in Redis, which is what makes the fencing token and
 * the order of a room's messages hold across processes. Tokens are formatted with `%.0f` so
 * that the string a script stores is the string a client compares with.
 *
 * A session is one hash: `e` token, `o` owner process, `i` peer id, `c` last client seq, `l`
 * last server seq, `f` seq of the first kept envelope, `x` lossy, `r` rooms and cursors
 * (packed), and one field per kept envelope, named by its seq (`f` to `l`): `[t, d]` packed,
 * or for a room message `R<id> <room>`, a reference to the room's history (the payload is
 * there once for every member). Its expiry is set by a creation or a claim, and renewed by the
 * holding process's keep-alive, not by every write.
 */

/** A token no earlier claim can have had: Redis' clock in microseconds. */
const newToken = `local t = redis.call('TIME')
local epoch = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))`

/** Lua: `HSET key` of the pairs in `fields`, 500 pairs per call (Lua's stack is bounded). */
const setFields = `local function setFields(key, fields)
  for i = 1, #fields, 1000 do
    redis.call('HSET', key, unpack(fields, i, math.min(i + 999, #fields)))
  end
end`

/**
 * KEYS: hash. ARGV: owner, ttl, peer id, c, l, f, lossy, rooms, then per kept envelope its seq
 * and the envelope: a lossy session's may have gaps (a room message trimmed from its history),
 * which numbering them from f would close, giving the ones after a gap the seqs of others.
 * Returns the token, or 0 when the session exists (another process holds it).
 */
export const createScript = `if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
${newToken}
${setFields}
local fields = { 'e', epoch, 'o', ARGV[1], 'i', ARGV[3], 'c', ARGV[4], 'l', ARGV[5], 'f', ARGV[6],
  'x', ARGV[7], 'r', ARGV[8] }
for i = 9, #ARGV - 1, 2 do
  fields[#fields + 1] = string.format('%.0f', tonumber(ARGV[i]))
  fields[#fields + 1] = ARGV[i + 1]
end
setFields(KEYS[1], fields)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return epoch`

/**
 * KEYS: hash. ARGV: owner, ttl, revoke channel prefix, session id, acknowledged (by the client
 * that resumes: what it has need not be read), ask, heartbeat key prefix, and the key that is set
 * while Redis is refilled after it lost its data (`Keys.refilling`), or '' for a claim that does
 * not wait: a session missing meanwhile may not be stored again yet by the process that holds
 * it, so the key's time to live (ms) is returned rather than nil, for the claim to ask again.
 * With ask '1', a session owned by another process that is alive (its heartbeat key is there)
 * is not taken: its token is returned, and nobody is told. The claim is made again with ask
 * `?<that token>`: the owner, if it still holds the session by it and hears its channel, is
 * asked to hand it over (`<id> ?<claimer> <token>` on its channel, answered with
 * `<id> !<token>` on the claimer's) and the token is returned again. Asking only once the
 * claimer has the first reply keeps a claim that Redis answers late (its resume was refused
 * meanwhile, and the client went on elsewhere) from ending the owner's live link: the claimer
 * asks nothing of a claim it gave up. The claim is made again once the owner answered, with
 * that token as ask: taken if the token is still the session's, else (another process claimed
 * it meanwhile) the new owner's token is returned as for '1'. With ask '0' it is taken whoever
 * holds it. Taking it raises
 * the token, tells the previous owner (another process) to let go, and returns { previous
 * token, token, {i, c, l, from, x, r}, envelopes from..l }, from = the first kept above
 * acknowledged; nil when there is none.
 */
export const claimScript = `if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[8] ~= '' then
    local refilling = redis.call('PTTL', ARGV[8])
    if refilling > 0 then return refilling end
  end
  return false
end
local h = redis.call('HMGET', KEYS[1], 'e', 'o', 'i', 'c', 'l', 'f', 'x', 'r')
local previous = h[1]
local owner = h[2]
if ARGV[6] ~= '0' and ARGV[6] ~= previous and owner ~= ARGV[1]
  and redis.call('EXISTS', ARGV[7] .. owner) == 1 then
  if ARGV[6] ~= '?' .. previous then return previous end
  if redis.call('PUBLISH', ARGV[3] .. owner, ARGV[4] .. ' ?' .. ARGV[1] .. ' ' .. previous) > 0 then
    return previous
  end
end
local epoch = string.format('%.0f', tonumber(previous) + 1)
redis.call('HSET', KEYS[1], 'e', epoch, 'o', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if owner ~= ARGV[1] then redis.call('PUBLISH', ARGV[3] .. owner, ARGV[4] .. ' ' .. epoch) end
local kept = {}
local f = math.max(tonumber(h[6]), tonumber(ARGV[5]) + 1)
local l = tonumber(h[5])
for from = f, l, 1000 do
  local names = {}
  for s = from, math.min(from + 999, l) do names[#names + 1] = string.format('%.0f', s) end
  for _, value in ipairs(redis.call('HMGET', KEYS[1], unpack(names))) do kept[#kept + 1] = value end
end
return { previous, epoch, { h[3], h[4], h[5], string.format('%.0f', f), h[7], h[8] }, kept }`

/**
 * Lua: `reader(data)` returns a function that reads the next netstring of `data` each call, nil
 * past the last.
 */
const reader = `local function reader(data)
  local at = 1
  return function()
    if at > #data then return nil end
    local colon = string.find(data, ':', at, true)
    local length = tonumber(string.sub(data, at, colon - 1))
    at = colon + length + 1
    return string.sub(data, colon + 1, colon + length)
  end
end`

/**
 * One write of a process: the room sends, then the session commits, of an event-loop iteration,
 * in one call (so one request, one script run and one reply for them all), the sends first: a
 * commit that acknowledges a client message runs after the room sends its handler made. A send
 * that fails stops the sends after it and fails the commits, which are not run (they may
 * acknowledge messages whose sends were refused); commits that fail leave the sends stored.
 *
 * ARGV: key prefix, history max length, history ttl, idempotency ttl, then the sends in one
 * argument and the commits in another, as netstrings (`<length>:<bytes>`, see `Netstrings`),
 * then the channel prefix (`Keys.channels`).
 *
 * Sends: per send its kind (`M` reliable, `U` unreliable), room, idempotency id ('' for none),
 * origin (the sending process, '' for none) and its number there, and payload. A reliable send
 * is appended to the room's history and published (`M<id> <prev> <payload>`) in one step, so
 * that every process receives a room's messages in the order of their ids; each carries the id
 * before it (`prev`), so that a gap (a missed publication, or history trimmed past a cursor) is
 * seen. One whose idempotency id was seen in its room within the idempotency ttl is dropped; so
 * is one whose number is not past the last its process stored in the room (a process's numbers
 * only grow, and its sends go in order): the same write sent again after its reply was lost (a
 * process away from Redis keeps its sends until it is back). That number is kept for the history
 * ttl, or the idempotency ttl if longer, from that process's last send in the room. An
 * unreliable one is only published (`U<payload>`).
 *
 * Commits: the number of sessions, then per session its id, token, c, acknowledged, lossy, rooms
 * ('' unchanged), n, and n pairs of seq and envelope. Each session's result is 1, 0 when the
 * token is not current (fenced: that session only; so too when the session is gone and its fence,
 * left by its release, holds a token not older), -1 when the session is gone. Idempotent: an
 * envelope is added only as the next seq, the client seq only grows, so a commit applied twice
 * (resent after a lost reply) changes nothing more.
 *
 * Returns { the number of the send that failed (from 1; 0: none, and those before it ran), its
 * error, the commits' error ('' for none: then none is known to be stored; a failed send fails
 * the commits, which are not run), the commits' results }.
 *
 * The keys are named here, from the prefix (Redis Cluster is not supported anyway).
 */
export const writeScript = `${setFields}
${reader}
local function message(err)
  if type(err) == 'table' and err.err then return err.err end
  return tostring(err)
end
local prefix = ARGV[1]
local channels = ARGV[7]
-- An id is an idempotency key per room: a handler that relays one client message to several
-- rooms with its id sends it to each, as a server without a cluster does. The room's length
-- first keeps any room and id apart.
local function sentKey(room, id)
  return prefix .. 'sent:' .. #room .. ':' .. room .. id
end
-- The last number stored per room and sending process (read once per script), and those this
-- script moved, written once it is done.
local latest = {}
local moved = {}
local function latestOf(key)
  local n = latest[key]
  if n == nil then
    n = tonumber(redis.call('GET', key) or '0')
    latest[key] = n
  end
  return n
end
local sent = 0
local sends = function()
  local next = reader(ARGV[5])
  local last = {}
  for kind in next do
    sent = sent + 1
    local room = next()
    local id = next()
    local origin = next()
    local seq = tonumber(next())
    local payload = next()
    local channel = channels .. 'c:' .. room
    local seqKey = nil
    if origin ~= '' then seqKey = prefix .. 'seq:' .. #room .. ':' .. room .. origin end
    if kind == 'U' then
      redis.call('PUBLISH', channel, 'U' .. payload)
    elseif seqKey and seq <= latestOf(seqKey) then
      -- Stored already: this write was sent again after its reply was lost.
    elseif id == '' or redis.call('EXISTS', sentKey(room, id)) == 0 then
      local key = prefix .. 'h:' .. room
      local prev = last[room]
      local first = prev == nil
      if first then
        prev = '0-0'
        local newest = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
        if #newest > 0 then prev = newest[1][1] end
      end
      local added = redis.call('XADD', key, 'MAXLEN', '~', ARGV[2], '*', 'p', prev, 'm', payload)
      -- Marked sent once stored: a send refused leaves no mark, and its retry is stored.
      if id ~= '' then redis.call('SET', sentKey(room, id), '1', 'PX', ARGV[4]) end
      if seqKey then
        latest[seqKey] = seq
        moved[seqKey] = true
      end
      if first then redis.call('PEXPIRE', key, ARGV[3]) end
      last[room] = added
      redis.call('PUBLISH', channel, 'M' .. added .. ' ' .. prev .. ' ' .. payload)
    end
  end
end
local failed = 0
local sendError = ''
local ok, err = pcall(sends)
if not ok then
  failed = sent
  sendError = message(err)
end
-- What was stored is marked, the sends before one that failed too (they are not sent again).
-- For the history's ttl, or the idempotency ttl if longer: the mark lapses after this process's
-- own last send, the history after anyone's, so a short history would let a copy in.
local seqTtl = string.format('%.0f', math.max(tonumber(ARGV[3]), tonumber(ARGV[4])))
for key in pairs(moved) do
  pcall(redis.call, 'SET', key, string.format('%.0f', latest[key]), 'PX', seqTtl)
end
local results = {}
local commits = function()
  local take = reader(ARGV[6])
  for k = 1, tonumber(take()) do
    local id = take()
    local key = prefix .. 's:{' .. id .. '}'
    local token = take()
    local client = tonumber(take())
    local a = tonumber(take())
    local lossy = take()
    local rooms = take()
    local n = tonumber(take())
    local h = redis.call('HMGET', key, 'e', 'c', 'f', 'l')
    if not h[1] then
      -- Released by a token not older than this one (another process took it, then let it go):
      -- fenced. Stored again (missing), a stale owner's state would be resumed by its id.
      local fence = redis.call('GET', prefix .. 'fence:{' .. id .. '}')
      if fence and tonumber(fence) >= tonumber(token) then results[k] = 0 else results[k] = -1 end
    elseif h[1] ~= token then
      results[k] = 0
    end
    if results[k] ~= nil then
      for i = 1, 2 * n do take() end
    else
      local c = math.max(tonumber(h[2]), client)
      local f = tonumber(h[3])
      local l = tonumber(h[4])
      if a >= f then
        for from = f, math.min(a, l), 1000 do
          local names = {}
          for s = from, math.min(from + 999, a, l) do names[#names + 1] = string.format('%.0f', s) end
          redis.call('HDEL', key, unpack(names))
        end
        l = math.max(l, a)
        f = a + 1
      end
      local fields = {}
      for i = 1, n do
        local seq = tonumber(take())
        local envelope = take()
        if seq == l + 1 then
          l = l + 1
          fields[#fields + 1] = string.format('%.0f', l)
          fields[#fields + 1] = envelope
        end
      end
      fields[#fields + 1] = 'c'
      fields[#fields + 1] = string.format('%.0f', c)
      fields[#fields + 1] = 'f'
      fields[#fields + 1] = string.format('%.0f', f)
      fields[#fields + 1] = 'l'
      fields[#fields + 1] = string.format('%.0f', l)
      if lossy == '1' then
        fields[#fields + 1] = 'x'
        fields[#fields + 1] = '1'
      end
      if rooms ~= '' then
        fields[#fields + 1] = 'r'
        fields[#fields + 1] = rooms
      end
      setFields(key, fields)
      results[k] = 1
    end
  end
end
local commitError = ''
if failed > 0 then
  -- A commit acknowledges its handler's messages: none is stored ahead of a room send refused.
  commitError = 'a room send of the same write failed: ' .. sendError
else
  ok, err = pcall(commits)
  if not ok then
    commitError = message(err)
    results = {}
  end
end
return { failed, sendError, commitError, results }`

/**
 * KEYS: hash, fence. ARGV: token, ttl. Deletes the session if the token is current, and keeps
 * the token as its fence as long as the session could have lived on: an owner that missed its
 * revoke (the releasing process claimed the session from it) still holds it, and its commit is
 * fenced by it rather than found missing (which stores the session again whole, stale).
 */
export const releaseScript = `if redis.call('HGET', KEYS[1], 'e') == ARGV[1] then
  local ttl = math.max(redis.call('PTTL', KEYS[1]), tonumber(ARGV[2]))
  redis.call('DEL', KEYS[1])
  if ttl > 0 then redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl) end
end
return 1`

/**
 * KEYS: the room's presence hash, the process's presence set, the set of processes, the
 * process's heartbeat. ARGV: peer, process, channel, room, process ttl, how the names of the
 * processes' presence sets begin, the member's session (its hash), and '1' for a join written
 * again once Redis is back (else ''). Publishes a join when the peer was not present (a session
 * moving between processes stays present). The process is registered (and its heartbeat set)
 * here too: one that dies before its first heartbeat is cleaned up all the same.
 * An entry that another process lists as its own is kept when the session is held by another
 * process now, or for a join written again: that process claimed the session since (this one
 * could not be asked) and joined the member, so the session held here is stale, and its leave,
 * once this process learns it, must not remove the member. A join made before the claim whose
 * reply was lost with the connection is such a join: ioredis sends it again once back, after
 * the other process's. An entry a move left, or a dead process's, is taken over; so is one
 * taken from a process that held the session before this one claimed it.
 */
export const joinScript = `redis.call('SADD', KEYS[3], ARGV[2])
redis.call('SET', KEYS[4], '1', 'PX', ARGV[5])
local present = redis.call('HGET', KEYS[1], ARGV[1])
if present and present ~= ARGV[2]
  and redis.call('SISMEMBER', ARGV[6] .. present, ARGV[1] .. ' ' .. ARGV[4]) == 1 then
  local holder = redis.call('HGET', ARGV[7], 'o')
  if ARGV[8] == '1' or (holder and holder ~= ARGV[2]) then return 0 end
end
local added = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1] .. ' ' .. ARGV[4])
if added == 1 then redis.call('PUBLISH', ARGV[3], 'J' .. ARGV[1]) end
return added`

/**
 * KEYS: the room's presence hash, the process's presence set, the moves. ARGV: peer, process,
 * channel, room, moved ('1': the session lives on in another process, which is its presence
 * now), process ttl. A moved entry stays for the new process's join to take over without a
 * leave and a join; should it not (that process resets the session, or lost it, or died before
 * it joined), nothing would remove it: this process no longer lists it. So it is listed in the
 * moves, to lapse a process ttl from now (see `reapScript`).
 */
export const leaveScript = `redis.call('SREM', KEYS[2], ARGV[1] .. ' ' .. ARGV[4])
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[5] == '1' then
  local t = redis.call('TIME')
  local lapse = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[6])
  redis.call('ZADD', KEYS[3], lapse, ARGV[2] .. ' ' .. ARGV[1] .. ' ' .. ARGV[4])
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[3], 'L' .. ARGV[1])
return 1`

/**
 * KEYS: the set of processes, the moves. ARGV: key prefix, channel prefix. Every process whose heartbeat key
 * expired: its members leave their rooms (those that moved to another process stay), and it is
 * forgotten (and told so on its channel, `*`, should it be alive after all). Then every move that lapsed: its entry, if it still names the process the session
 * moved from and that process does not list it (it did not get the session back), leaves; the
 * process the session moved to would have joined by then. Returns how many processes were found
 * dead.
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
        redis.call('PUBLISH', ARGV[2] .. 'c:' .. room, 'L' .. peer)
      end
    end
    redis.call('DEL', set)
    redis.call('SREM', KEYS[1], pid)
    -- Heard only by a process that is alive after all (it stalled): it writes its members again.
    redis.call('PUBLISH', ARGV[2] .. 'revoke:' .. pid, '*')
    dead = dead + 1
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, move in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)) do
  local a = string.find(move, ' ', 1, true)
  local b = string.find(move, ' ', a + 1, true)
  local pid = string.sub(move, 1, a - 1)
  local peer = string.sub(move, a + 1, b - 1)
  local room = string.sub(move, b + 1)
  local key = ARGV[1] .. 'p:' .. room
  if redis.call('HGET', key, peer) == pid
    and redis.call('SISMEMBER', ARGV[1] .. 'pm:' .. pid, peer .. ' ' .. room) == 0 then
    redis.call('HDEL', key, peer)
    redis.call('PUBLISH', ARGV[2] .. 'c:' .. room, 'L' .. peer)
  end
  redis.call('ZREM', KEYS[2], move)
end
return dead`

/**
 * KEYS: the generation, the refilling key (`Keys.generation`, `Keys.refilling`). ARGV: a new
 * generation, the one this process saw last ('' for none), how long Redis is refilled (ms).
 * Writes the new generation when there is none (Redis is new, or lost its data). A process that
 * saw another one knows that Redis lost its data since: the refilling key is set, or its time to
 * live raised, to cover the processes that come back after this one. A process that saw none
 * (it started while Redis was away) cannot tell a new Redis from one that lost its data: it
 * leaves that to those that saw it. Returns the generation.
 */
export const generationScript = `local seen = redis.call('GET', KEYS[1])
if not seen then
  seen = ARGV[1]
  redis.call('SET', KEYS[1], seen)
end
if ARGV[2] ~= '' and ARGV[2] ~= seen and redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
end
return seen`
