-- Delete a session and its index entry.
-- KEYS[1] session key, KEYS[2] index of the expected user (or KEYS[1] again).
-- ARGV[1] expected stored user id, ARGV[2] index member.
-- Returns 1 deleted, 0 no such session, {'uid', stored_user_id} on a mismatch.
local raw = redis.call('GET', KEYS[1])
if raw then
  local stored_user = meta_user(raw) or ''
  if stored_user ~= ARGV[1] then return {'uid', stored_user} end
  redis.call('DEL', KEYS[1])
end
if ARGV[1] ~= '' then redis.call('ZREM', KEYS[2], ARGV[2]) end
if raw then return 1 end
return 0
