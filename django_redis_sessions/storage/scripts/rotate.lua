-- ARGV: expected_user_id, old_member, new_member, sealed
-- Move a session to a new key, keeping everything but the key (SESSIONS_ROTATE_AFTER),
-- and leave a stub at the old key for the grace period (policies/rotation.py).
-- KEYS[1] old key, KEYS[2] new key, KEYS[3] the user's index (or KEYS[1] again).
-- expected_user_id: expected user id, old_member: old member, new_member: new member, sealed: the new key sealed
--   with the old one.
-- The rotation commits only with a response that delivers the new key: until a
-- request arrives with the new key (stub_grace.lua, confirm.lua), the stub keeps
-- the old key working for as long as the session lives, so a response that never
-- delivered the new cookie (a 5xx, a lost connection) signs nobody out. The new
-- record carries the old digest as 'p' (pending) until then.
-- Returns 1 rotated, 0 new key taken, 2 the old session is gone, -1 corrupt,
--   {'moved', stub} when another request rotated it first, {'uid', stored_user_id}
--   on a mismatch.
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local raw = redis.call('GET', KEYS[1])
if not raw then return 2 end
if string.byte(raw, 1) == STUB_BYTE then return {'moved', raw} end
local created, deadline, idle = header(raw)
local stored_user, data_pos = meta_user(raw)
if not (created and stored_user) then return -1 end
if stored_user ~= argv.expected_user_id then return {'uid', stored_user} end
local now, now_s = now_ms()
local exp = expiry_ms(now, idle, deadline)
if exp <= now then
  redis.call('DEL', KEYS[1])
  return 2
end
local meta = ns_read(raw, HEADER_LENGTH + 1)
local kept = pairs_without(meta, 1, {[META_ROTATED] = true, [META_PENDING] = true}, USER_META)
if not kept then return -1 end
kept = kept .. ns(META_PENDING) .. ns(argv.old_member)
-- The fingerprint pages showed before this rotation keeps naming the session.
if not pair_map(meta)[META_ORIGIN] then
  kept = kept .. ns(META_ORIGIN) .. ns(string.sub(argv.old_member, 1, FINGERPRINT_LENGTH))
end
-- Created, deadline and idle timeout carry over: rotation is not a new sign-in.
local head = string.char(VERSION_BYTE) .. field(created) .. field(now_s) .. field(deadline) .. field(idle)
redis.call('SET', KEYS[2],
  head .. build_meta(stored_user, kept, ns(META_ROTATED) .. ns(tostring(now_s))) .. string.sub(raw, data_pos),
  'PXAT', exp)
redis.call('SET', KEYS[1], string.char(STUB_BYTE) .. argv.new_member .. argv.sealed, 'PXAT', exp)
if stored_user ~= '' then
  redis.call('ZREM', KEYS[3], argv.old_member)
  local score = deadline
  if score <= 0 then score = NO_DEADLINE end
  redis.call('ZADD', KEYS[3], score, argv.new_member)
end
return 1
