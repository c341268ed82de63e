-- ARGV: mode, created, deadline, idle, meta, user_id, expected_user_id, member, data, deleted, key_prefix, sweep_limit, absolute_age, max_sessions, limit_action, max_size, claimed
-- Create, replace or merge a session, and keep its user's index exact, atomically.
-- KEYS[1] session key, KEYS[2] index of the new user, KEYS[3] index of the user
--   the caller believes is stored, KEYS[4] the users index (unused slots repeat
--   KEYS[1]).
-- mode: 'c' create (fails if the key exists), 'r' replace all data,
--   'm' merge only changed/deleted keys (both fail if the key is gone: no
--   resurrection of a session deleted elsewhere).
-- created, deadline, idle; meta: metadata pairs other than the
--   user id (ip, ua; stored pairs not supplied here are kept), user_id: new user id,
--   expected_user_id: expected stored user id, member: index member (digest), data: data pairs (all
--   for c/r, changed ones for m), deleted: deleted keys (netstrings, m only),
--   key_prefix: session key prefix, sweep_limit: index sweep limit, absolute_age: current
--   SESSIONS_ABSOLUTE_AGE (0 = off): the deadline is capped at the STORED
--   creation time plus it, whatever the client computed. max_sessions:
--   SESSIONS_MAX_PER_USER (0 = off), limit_action: 'e' to end the oldest
--   sessions beyond it, 'r' to refuse the save. max_size: SESSION_REDIS_MAX_SIZE (0 =
--   off): the most the stored data may take once merged (keys plus values, as
--   stored), checked here so concurrent merges cannot add up past it. claimed:
--   (Cluster only) the index score the client has already claimed for this member
--   (0 none).
-- On a Redis Cluster (CLUSTER) the indexes live in other hash slots: this script
--   touches KEYS[1] only. Before a write that needs an index entry the entry must
--   exist (ops.py claims it first, so a crash leaves a stale entry, never an
--   unindexed session): without one this returns {'index', score} and writes
--   nothing. The client removes the old user's entry afterwards, and max_sessions is 0
--   (the client enforces the session limit).
-- Returns 1 saved, 0 exists (c) / missing (r, m), -1 stored record corrupt,
--   -2 refused by the session limit (nothing written), {'size', bytes} refused
--   by SESSION_REDIS_MAX_SIZE (nothing written), {'ended', digests...} saved
--   after ending those sessions for the limit, {'uid', stored_user_id} when the
--   stored user differs from expected_user_id, {'moved', stub} when the key was rotated;
--   on a Cluster also -4 when the session ended (saved with a past expiry).
local mode = argv.mode
local raw = redis.call('GET', KEYS[1])
local created = tonumber(argv.created)
local data = argv.data
local stored_deadline = -1
local stored_idle = -1
local kept_meta = ''
-- The stored metadata netstring, when this save leaves it exactly as it is (same
-- user, nothing supplied that differs): copied as stored instead of rebuilt.
local same_meta = nil
if mode == 'c' then
  if raw then return 0 end
else
  if not raw then return 0 end
  -- Rotated by another request while this one ran (policies/rotation.py): the client
  -- follows the stub to the new key and saves there.
  if string.byte(raw, 1) == STUB_BYTE then return {'moved', raw} end
  created, stored_deadline, stored_idle = header(raw)
  if not created then return -1 end
  local stored_user, data_pos = meta_user(raw)
  if not stored_user then return -1 end
  if stored_user ~= argv.expected_user_id then return {'uid', stored_user} end
  -- Metadata this save does not supply (an IP recorded by an earlier request)
  -- survives it.
  local meta = ns_read(raw, HEADER_LENGTH + 1)
  local supplied = argv.meta
  if argv.user_id == stored_user then
    if supplied == '' then
      same_meta = string.sub(raw, HEADER_LENGTH + 1, data_pos - 1)
    else
      local want = pair_map(supplied)
      local have = want and pair_map(meta)
      if not have then return -1 end
      same_meta = string.sub(raw, HEADER_LENGTH + 1, data_pos - 1)
      for k, v in pairs(want) do
        if have[k] ~= v then
          same_meta = nil
          break
        end
      end
    end
  end
  if not same_meta then
    local supplied_keys = pair_map(supplied)
    kept_meta = supplied_keys and pairs_without(meta, 1, supplied_keys, USER_META)
    if not kept_meta then return -1 end
  end
  if mode == 'm' then
    -- Keep every stored pair this request did not change or delete, then
    -- append the changed ones: a concurrent request's other keys survive.
    local changed = pair_map(argv.data)
    local deleted = argv.deleted == '' and NONE or netstring_set(argv.deleted)
    local kept = changed and deleted and pairs_without(raw, data_pos, changed, deleted)
    if not kept then return -1 end
    data = kept .. argv.data
  end
end

local max_size = tonumber(argv.max_size)
-- The pairs' size never exceeds the string's length (pairs_size counts the keys
-- and values without their framing), so most saves need not count them.
if max_size > 0 and #data > max_size then
  local size = pairs_size(data)
  if size > max_size then return {'size', size} end
end

local now, now_s = now_ms()
local deadline = tonumber(argv.deadline)
local absolute_age = tonumber(argv.absolute_age)
if absolute_age > 0 and (deadline == 0 or created + absolute_age < deadline) then
  deadline = created + absolute_age
end
local idle = tonumber(argv.idle)
local exp = expiry_ms(now, idle, deadline)
local member = argv.member
local new_user = argv.user_id
local old_user = argv.expected_user_id
if exp <= now then
  -- Saved with an expiry in the past: the session ends now (Django ticket #19200).
  if raw then redis.call('DEL', KEYS[1]) end
  if CLUSTER then return -4 end
  if old_user ~= '' then
    redis.call('ZREM', KEYS[3], member)
    users_forget(KEYS[4], KEYS[3], old_user)
  end
  if new_user ~= '' then
    redis.call('ZREM', KEYS[2], member)
    users_forget(KEYS[4], KEYS[2], new_user)
  end
  return 1
end
if CLUSTER and new_user ~= '' then
  local score = index_score(deadline)
  if score > tonumber(argv.claimed) and (new_user ~= old_user or score > index_score(stored_deadline)) then
    return {'index', score}
  end
end
local ended = nil
local max_sessions = tonumber(argv.max_sessions)
if max_sessions > 0 and new_user ~= '' and new_user ~= old_user then
  ended = enforce_limit(KEYS[2], member, max_sessions, argv.limit_action, argv.key_prefix, new_user)
  if not ended then return -2 end
end
-- The header: created, deadline and idle copied as stored when unchanged (most
-- saves), only last-seen formatted.
local seen = field(now_s)
local head
if deadline == stored_deadline and idle == stored_idle then
  head = string.sub(raw, 1, SEEN_OFFSET) .. seen .. string.sub(raw, DEADLINE_AT, HEADER_LENGTH)
else
  head = string.char(VERSION_BYTE) .. field(created) .. seen .. field(deadline) .. field(idle)
end
redis.call('SET', KEYS[1], head .. (same_meta or build_meta(new_user, kept_meta, argv.meta)) .. data,
  'PXAT', exp)
if CLUSTER then return 1 end
if old_user ~= '' and old_user ~= new_user then
  redis.call('ZREM', KEYS[3], member)
  users_forget(KEYS[4], KEYS[3], old_user)
end
-- The index only changes when the session's user or deadline does: most saves
-- (a signed-in user changing a key) leave it alone.
if new_user ~= '' and (new_user ~= old_user or deadline ~= stored_deadline) then
  index_add(KEYS[2], member, deadline, now_s, argv.key_prefix, tonumber(argv.sweep_limit),
    KEYS[4], new_user, new_user ~= old_user)
end
if ended and #ended > 0 then
  table.insert(ended, 1, 'ended')
  return ended
end
return 1
