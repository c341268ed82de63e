-- ARGV: expected_user_id, member, key_prefix, stub_only
-- Delete a session and its index entry.
-- KEYS[1] session key, KEYS[2] index of the expected user (or KEYS[1] again),
--   KEYS[3] the users index (or KEYS[1] again).
-- expected_user_id: expected stored user id, member: index member, key_prefix: session key
--   prefix (to reach the session a rotation stub points to).
-- Returns 1 deleted, 0 no such session, {'uid', stored_user_id} on a mismatch.
-- On a Redis Cluster (CLUSTER) this touches KEYS[1] only: the client removes the
--   index entry afterwards, and follows a rotation stub itself ({'moved', digest}
--   returned, nothing deleted), then deletes the stub with ARGV[4] = '1'.
local raw = redis.call('GET', KEYS[1])
if CLUSTER and raw and string.byte(raw, 1) == STUB_BYTE then
  if argv.stub_only == '1' then return redis.call('DEL', KEYS[1]) end
  return {'moved', stub_target(raw)}
end
if raw and string.byte(raw, 1) == STUB_BYTE then
  -- A rotation stub (policies/rotation.py): a request still on the old key signs out, so
  -- the session it moved to ends too. (It names a key outside KEYS: fine on one
  -- server; Redis Cluster would need this step on the client.)
  local target = stub_target(raw)
  local moved = redis.call('GET', argv.key_prefix .. target)
  if moved and string.byte(moved, 1) ~= STUB_BYTE then
    local moved_user = meta_user(moved) or ''
    if moved_user ~= argv.expected_user_id then return {'uid', moved_user} end
    redis.call('DEL', KEYS[1], argv.key_prefix .. target)
    if argv.expected_user_id ~= '' then
      redis.call('ZREM', KEYS[2], target)
      users_forget(KEYS[3], KEYS[2], argv.expected_user_id)
    end
    return 1
  end
  redis.call('DEL', KEYS[1])
  return 0
end
if raw then
  local stored_user = meta_user(raw) or ''
  if stored_user ~= argv.expected_user_id then return {'uid', stored_user} end
  redis.call('DEL', KEYS[1])
end
if argv.expected_user_id ~= '' and not CLUSTER then
  redis.call('ZREM', KEYS[2], argv.member)
  users_forget(KEYS[3], KEYS[2], argv.expected_user_id)
end
if raw then return 1 end
return 0
