-- ARGV: certain, members...
-- Redis Cluster: remove entries from a user's index after their sessions ended
-- (ops.py), or when a reader found no session for them.
-- KEYS[1] the user's index. certain: how many members follow that certainly ended
-- (this client deleted them, or their record names another user); those and their
-- pending marks go. The members after them were merely not found: each goes
-- unless its pending mark is still in the future (a sign-in claimed it and is
-- writing the record right now).
-- Returns how many entries the index has left (0: the user can leave the users
-- index, ops.py).
local _, now_s = now_ms()
local certain = tonumber(argv.certain)
for i = REST, #ARGV do
  local member = ARGV[i]
  local mark = PENDING_MARK .. member
  if i < REST + certain then
    redis.call('ZREM', KEYS[1], mark)
    redis.call('ZREM', KEYS[1], member)
  else
    local until_s = redis.call('ZSCORE', KEYS[1], mark)
    if not until_s or tonumber(until_s) < now_s then
      redis.call('ZREM', KEYS[1], mark)
      redis.call('ZREM', KEYS[1], member)
    end
  end
end
return redis.call('ZCARD', KEYS[1])
