-- ARGV: expected_user_id, old_member, new_member, created, deadline, idle, meta, user_id, data, old_in_store, key_prefix, sweep_limit, empty_meta
-- Move a session to a new key atomically (cycle_key): write the new record, delete
-- the old one, and move the index entry.
-- KEYS[1] old key, KEYS[2] new key, KEYS[3] old user's index, KEYS[4] new user's
--   index, KEYS[5] the users index (unused slots repeat KEYS[1]).
-- expected_user_id: expected old user id, old_member: old member, new_member: new member, created,
--   deadline, idle, meta: meta netstring, user_id: new user id, data: data pairs,
--   old_in_store: '1' if the old key was loaded from Redis, key_prefix: session key prefix,
--   sweep_limit: index sweep limit, empty_meta: the meta netstring to write instead when the old
--   session is gone (this request's client only: no user, nothing of the old one).
-- Returns 1 moved, 2 written empty because the old session had been deleted
--   meanwhile, 0 new key taken, {'uid', stored_user_id} on a mismatch.
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local old = redis.call('GET', KEYS[1])
local meta = argv.meta
local data = argv.data
local new_user = argv.user_id
local result = 1
if old then
  local stored_user = meta_user(old) or ''
  if stored_user ~= argv.expected_user_id then return {'uid', stored_user} end
  redis.call('DEL', KEYS[1])
elseif argv.old_in_store == '1' then
  -- Deleted or revoked while this request held it: carrying its data (and its
  -- user) into a fresh key would resurrect it.
  meta = argv.empty_meta
  data = ''
  new_user = ''
  result = 2
end
if argv.expected_user_id ~= '' then
  redis.call('ZREM', KEYS[3], argv.old_member)
  if argv.expected_user_id ~= new_user then users_forget(KEYS[5], KEYS[3], argv.expected_user_id) end
end
local now, now_s = now_ms()
local deadline = tonumber(argv.deadline)
local idle = tonumber(argv.idle)
local exp = expiry_ms(now, idle, deadline)
if exp <= now then return result end
redis.call('SET', KEYS[2],
  string.char(VERSION_BYTE) .. field(tonumber(argv.created)) .. field(now_s) .. field(deadline) .. field(idle) .. meta .. data,
  'PXAT', exp)
if new_user ~= '' then
  index_add(KEYS[4], argv.new_member, deadline, now_s, argv.key_prefix, tonumber(argv.sweep_limit),
    KEYS[5], new_user, new_user ~= argv.expected_user_id)
end
return result
