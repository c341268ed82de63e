-- ARGV: user_id, members...
-- End several sessions of one user at once and drop their index entries.
-- KEYS[1] the user's index (a session key again when the user id is empty),
--   KEYS[2..n+1] the sessions' keys.
-- user_id: user id ('' for sessions without one), ARGV[2..n+1] their index members.
-- A session whose record now names another user is left alone (its entry here
-- was stale); a record too corrupt to name a user is ended, as a load would.
-- Returns the members of the sessions that were ended.
-- On a Redis Cluster (CLUSTER) KEYS[1] is the session's own key again (one session
--   per call) and the client removes the index entries afterwards.
local user = argv.user_id
local ended = {}
-- KEYS[i] and ARGV[i] name the same session (both lists start at REST).
for i = REST, #KEYS do
  local raw = redis.call('GET', KEYS[i])
  if raw and string.byte(raw, 1) == STUB_BYTE and not CLUSTER then
    -- Rotated since the caller read the index: end the session the stub points
    -- to (under the member the caller named), then the stub.
    local target = stub_target(raw)
    local prefix = string.sub(KEYS[i], 1, #KEYS[i] - DIGEST_HEX)
    local moved = redis.call('GET', prefix .. target)
    redis.call('DEL', KEYS[i])
    if moved and string.byte(moved, 1) ~= STUB_BYTE then
      local moved_user = meta_user(moved)
      if moved_user == nil or moved_user == user then
        redis.call('DEL', prefix .. target)
        if user ~= '' then redis.call('ZREM', KEYS[1], target) end
        ended[#ended + 1] = ARGV[i]
      end
    end
    raw = nil
  elseif raw and string.byte(raw, 1) == STUB_BYTE then
    -- On a Cluster the stub's target is in another slot, and already in the
    -- user's index (the rotation claimed it first): the client's next pass ends
    -- it. The stub is no session of its own and is not counted.
    redis.call('DEL', KEYS[i])
    raw = nil
  end
  if raw then
    local stored_user = meta_user(raw)
    if stored_user == nil or stored_user == user then
      redis.call('DEL', KEYS[i])
      ended[#ended + 1] = ARGV[i]
    end
  end
  if user ~= '' and not CLUSTER then redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return ended
