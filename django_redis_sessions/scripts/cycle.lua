-- Move a session to a new key atomically (cycle_key): write the new record, delete
-- the old one, and move the index entry.
-- KEYS[1] old key, KEYS[2] new key, KEYS[3] old user's index, KEYS[4] new user's
--   index (unused slots repeat KEYS[1]).
-- ARGV[1] expected old user id, [2] old member, [3] new member, [4] created,
--   [5] deadline, [6] idle, [7] meta netstring, [8] new user id, [9] data pairs,
--   [10] '1' if the old key was loaded from Redis, [11] session key prefix,
--   [12] index sweep limit, [13] the meta netstring to write instead when the old
--   session is gone (this request's client only: no user, nothing of the old one).
-- Returns 1 moved, 2 written empty because the old session had been deleted
--   meanwhile, 0 new key taken, {'uid', stored_user_id} on a mismatch.
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local old = redis.call('GET', KEYS[1])
local meta = ARGV[7]
local data = ARGV[9]
local new_user = ARGV[8]
local result = 1
if old then
  local stored_user = meta_user(old) or ''
  if stored_user ~= ARGV[1] then return {'uid', stored_user} end
  redis.call('DEL', KEYS[1])
elseif ARGV[10] == '1' then
  -- Deleted or revoked while this request held it: carrying its data (and its
  -- user) into a fresh key would resurrect it.
  meta = ARGV[13]
  data = ''
  new_user = ''
  result = 2
end
if ARGV[1] ~= '' then redis.call('ZREM', KEYS[3], ARGV[2]) end
local now, now_s = now_ms()
local deadline = tonumber(ARGV[5])
local idle = tonumber(ARGV[6])
local exp = expiry_ms(now, idle, deadline)
if exp <= now then return result end
redis.call('SET', KEYS[2],
  '1' .. field(tonumber(ARGV[4])) .. field(now_s) .. field(deadline) .. field(idle) .. meta .. data,
  'PXAT', exp)
if new_user ~= '' then
  index_add(KEYS[4], ARGV[3], deadline, now_s, ARGV[11], tonumber(ARGV[12]))
end
return result
