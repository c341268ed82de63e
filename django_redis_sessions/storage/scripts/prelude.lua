-- Shared helpers, prepended to every script (storage/scripts.py). The record
-- layout's constants (HEADER_LENGTH, CREATED_AT, SEEN_OFFSET, META_USER, ...) are
-- defined once in storage/record.py and injected above this file.

-- The digest a rotation stub points to (record.py's stub_target).
local function stub_target(s)
  return string.sub(s, 2, 1 + DIGEST_HEX)
end

-- Read one netstring ("<len>:<bytes>") at pos; return item, next pos (or nil).
local function ns_read(s, pos)
  local colon = string.find(s, ':', pos, true)
  if not colon or colon - pos > 11 then return nil end
  local n = tonumber(string.sub(s, pos, colon - 1))
  if not n then return nil end
  local stop = colon + n
  if stop > #s then return nil end
  return string.sub(s, colon + 1, stop), stop + 1
end

-- Header fields as numbers: created, deadline, idle (no table: the save runs this
-- on every modifying request), or nil when the record is not ours.
local function header(raw)
  if string.byte(raw, 1) ~= VERSION_BYTE or #raw < HEADER_LENGTH then return nil end
  local created = tonumber(string.sub(raw, CREATED_AT, CREATED_AT + FIELD_WIDTH - 1), 16)
  local deadline = tonumber(string.sub(raw, DEADLINE_AT, DEADLINE_AT + FIELD_WIDTH - 1), 16)
  local idle = tonumber(string.sub(raw, IDLE_AT, IDLE_AT + FIELD_WIDTH - 1), 16)
  if not (created and deadline and idle) then return nil end
  return created, deadline, idle
end

-- The indexed user id stored in a record's metadata ('' if none), and the position
-- where its data pairs start; nil when the record is corrupt.
local function meta_user(raw)
  local meta, data_pos = ns_read(raw, HEADER_LENGTH + 1)
  if not meta then return nil end
  local pos = 1
  while pos <= #meta do
    local k, v
    k, pos = ns_read(meta, pos)
    if not k then return nil end
    v, pos = ns_read(meta, pos)
    if not v then return nil end
    if k == META_USER then return v, data_pos end
  end
  return '', data_pos
end

-- The netstring pairs of s as a table key -> value (also a set of their keys:
-- every value is a string, so truthy), or nil when malformed.
local function pair_map(s)
  local found = {}
  local pos = 1
  while pos <= #s do
    local k, v
    k, pos = ns_read(s, pos)
    if not k then return nil end
    v, pos = ns_read(s, pos)
    if not v then return nil end
    found[k] = v
  end
  return found
end

-- A set of the netstrings listed in s, or nil when malformed.
local function netstring_set(s)
  local found = {}
  local pos = 1
  while pos <= #s do
    local item
    item, pos = ns_read(s, pos)
    if not item then return nil end
    found[item] = true
  end
  return found
end

-- The data pairs of raw from pos on, without those whose key is in drop_a or
-- drop_b, as one string; nil when malformed. Kept pairs are copied as they are,
-- never decoded, and a run of kept pairs as one substring (most merges drop one
-- or two pairs of a handful: two or three copies instead of one per pair).
local function pairs_without(raw, pos, drop_a, drop_b)
  local parts = {}
  local n = #raw
  local run = pos
  while pos <= n do
    local colon = string.find(raw, ':', pos, true)
    if not colon then return nil end
    local key_len = tonumber(string.sub(raw, pos, colon - 1))
    if not key_len then return nil end
    local key = string.sub(raw, colon + 1, colon + key_len)
    local value_pos = colon + key_len + 1
    colon = string.find(raw, ':', value_pos, true)
    if not colon then return nil end
    local value_len = tonumber(string.sub(raw, value_pos, colon - 1))
    if not value_len or colon + value_len > n then return nil end
    local stop = colon + value_len
    if drop_a[key] or drop_b[key] then
      if run < pos then parts[#parts + 1] = string.sub(raw, run, pos - 1) end
      run = stop + 1
    end
    pos = stop + 1
  end
  if run == 1 then return raw end
  if run <= n then parts[#parts + 1] = string.sub(raw, run, n) end
  return table.concat(parts)
end

-- The bytes of keys and values in netstring pairs (SESSION_REDIS_MAX_SIZE's
-- measure); the framing is not counted.
local function pairs_size(s)
  local size, pos = 0, 1
  while pos <= #s do
    local item
    item, pos = ns_read(s, pos)
    if not item then return #s end
    size = size + #item
  end
  return size
end

local function ns(s)
  return #s .. ':' .. s
end

local USER_META = {[META_USER] = true}

-- An empty set (nothing deleted), shared instead of parsing ''.
local NONE = {}

-- A record's metadata netstring: the user id first, then the stored pairs the
-- caller keeps, then the pairs it supplies (record.py's encode_meta).
local function build_meta(user, kept, supplied)
  local m = kept .. supplied
  if user ~= '' then m = ns(META_USER) .. ns(user) .. m end
  return ns(m)
end

-- A record without what a load may touch (its last-seen field and, when the
-- metadata parses, the metadata: the load rewrites the IP and user agent): two
-- reads that compare equal under this differ by loads only, not by any save.
local function outside_load_touch(s)
  local head = string.sub(s, 1, SEEN_OFFSET) .. string.sub(s, SEEN_AT + FIELD_WIDTH, HEADER_LENGTH)
  local meta, data_pos = ns_read(s, HEADER_LENGTH + 1)
  if meta then return head .. 'm' .. string.sub(s, data_pos) end
  return head .. 'r' .. string.sub(s, HEADER_LENGTH + 1)
end

-- Cut a rotation stub at key (one pointing to new_digest) to grace ms: the new
-- key has reached its browser (confirm.lua, stub_grace.lua). 1 done, 0 no stub.
local function shorten_stub(key, new_digest, grace)
  local stub = redis.call('GET', key)
  if not stub or string.byte(stub, 1) ~= STUB_BYTE or stub_target(stub) ~= new_digest then
    return 0
  end
  local left = redis.call('PTTL', key)
  if grace <= 0 then
    redis.call('DEL', key)
  elseif left < 0 or left > grace then
    redis.call('PEXPIRE', key, grace)
  end
  return 1
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), tonumber(t[1])
end

-- When the session dies, in ms: the sooner of the idle window from now and the
-- absolute deadline. idle == 0 means "does not slide"; deadline == 0 means none.
local function expiry_ms(now, idle, deadline)
  local exp = nil
  if idle > 0 then exp = now + idle * 1000 end
  if deadline > 0 and (exp == nil or deadline * 1000 < exp) then exp = deadline * 1000 end
  return exp or now
end

-- A header field: 8 lowercase hex digits (record.py).
local function field(n)
  return string.format('%08x', n)
end

-- A session's score in its user's index: its deadline, or NO_DEADLINE for none.
local function index_score(deadline)
  if deadline <= 0 then return NO_DEADLINE end
  return deadline
end

-- Keep an index's own TTL at its longest-lived member, so an index can never
-- outlive its sessions.
local function index_ttl(idx)
  local top = redis.call('ZRANGE', idx, -1, -1, 'WITHSCORES')
  if top[2] then
    local max_score = tonumber(top[2])
    if max_score >= NO_DEADLINE then
      redis.call('PERSIST', idx)
    else
      redis.call('EXPIREAT', idx, max_score + 1)
    end
    return max_score
  end
  return nil
end

-- The users index (keys.users_key): every user with an index, scored by their
-- latest sign-in in ms, so the admin's overview reads one page of it instead of
-- walking the store. Kept by the writes that keep the per-user indexes (a
-- sign-in, a deadline raised), never by a request that only reads.
-- A sign-in raises the user's score, strictly (two sign-ins in one ms still
-- order, and a prune that compares scores sees the second); any other call only
-- lists a user missing from it (an index older than the users index). Its own
-- TTL is kept at least at the index's (max_score, the index's top score), so it
-- neither outlives every session it lists nor expires before one of them.
local function users_ttl(users, existed, max_score)
  if not max_score then return end
  if max_score >= NO_DEADLINE then
    redis.call('PERSIST', users)
  else
    local _, now_s = now_ms()
    local ttl = redis.call('TTL', users)
    if not existed or (ttl >= 0 and now_s + ttl <= max_score) then
      redis.call('EXPIREAT', users, max_score + 1)
    end
  end
end

local function users_touch(users, user, signin, max_score)
  local existed = redis.call('EXISTS', users) == 1
  local now = now_ms()
  local old = tonumber(redis.call('ZSCORE', users, user) or 0) or 0
  if signin then
    if old >= now then now = old + 1 end
    redis.call('ZADD', users, now, user)
  elseif old == 0 then
    redis.call('ZADD', users, now, user)
  end
  users_ttl(users, existed, max_score)
end

-- Drop a user from the users index once their index is gone (their last
-- session ended here). An index still holding entries of sessions that ended by
-- idleness keeps the user listed until a reader prunes it (users_prune.lua).
local function users_forget(users, idx, user)
  if user ~= '' and users ~= idx and redis.call('EXISTS', idx) == 0 then
    redis.call('ZREM', users, user)
  end
end

-- Add member to a user's index, scored by its session's deadline (an upper bound
-- on its life, so pruning by score never drops a live session), prune what is
-- certainly dead, and keep the index's own TTL at its longest-lived member so an
-- index can never outlive its sessions.
--
-- When the member is new (a login), the oldest `limit` members are also checked
-- for existence, so sessions that ended by idleness leave the index at the next
-- login instead of waiting for their deadline. This reads other sessions' keys,
-- which is fine on a single server; a Cluster deployment moves this sweep to the
-- client (other slots). `users` is the users index, `user` the index's user,
-- `signin` whether the session just joined it from another user (or none).
local function index_add(idx, member, deadline, now_s, session_prefix, limit, users, user, signin)
  local score = index_score(deadline)
  local added = redis.call('ZADD', idx, score, member)
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', '(' .. now_s)
  if added == 1 and limit > 0 then
    for _, m in ipairs(redis.call('ZRANGE', idx, 0, limit - 1)) do
      if m ~= member and redis.call('EXISTS', session_prefix .. m) == 0 then
        redis.call('ZREM', idx, m)
      end
    end
  end
  users_touch(users, user, signin, index_ttl(idx))
end

-- SESSIONS_MAX_PER_USER, before `member` joins `user`'s index: count
-- the user's other live sessions (records that exist and still name the user;
-- entries of ended sessions are dropped on the way). Under the limit: {}. At it:
-- false when refusing (action 'r'), else the oldest sessions (by creation, then
-- last seen) are deleted to make room and their digests returned. Running inside
-- the save script makes it atomic: of two simultaneous logins with a limit of 1,
-- the second sees the first.
local function enforce_limit(idx, member, max, action, session_prefix, user)
  local live = {}
  for _, m in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
    if m ~= member then
      local r = redis.call('GET', session_prefix .. m)
      if not r then
        redis.call('ZREM', idx, m)
      elseif meta_user(r) == user then
        local created = header(r)
        local seen = tonumber(string.sub(r, SEEN_AT, SEEN_AT + FIELD_WIDTH - 1), 16) or 0
        live[#live + 1] = {m, created or 0, seen}
      end
    end
  end
  if #live < max then return {} end
  if action == 'r' then return false end
  table.sort(live, function(a, b)
    if a[2] ~= b[2] then return a[2] < b[2] end
    return a[3] < b[3]
  end)
  local ended = {}
  for i = 1, #live - max + 1 do
    redis.call('DEL', session_prefix .. live[i][1])
    redis.call('ZREM', idx, live[i][1])
    ended[#ended + 1] = live[i][1]
  end
  return ended
end
