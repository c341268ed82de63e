-- Load a session and slide its expiry in the same round trip.
-- KEYS[1] session key. ARGV[1] current SESSION_REDIS_ABSOLUTE_AGE (0 = off): a
-- lowered setting applies to existing sessions at once.
-- Returns the stored bytes (as they were before this touch), or false.
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local h = header(raw)
if not h then return raw end  -- not ours: the client reports and removes it
local now, now_s = now_ms()
local deadline = h.deadline
local absolute_age = tonumber(ARGV[1])
if absolute_age > 0 and (deadline == 0 or h.created + absolute_age < deadline) then
  deadline = h.created + absolute_age
end
local exp = expiry_ms(now, h.idle, deadline)
if exp <= now then
  -- Past its absolute deadline: dead whatever its TTL said. Its index entry is
  -- pruned by score or by the next existence check.
  redis.call('DEL', KEYS[1])
  return false
end
redis.call('SETRANGE', KEYS[1], SEEN_OFFSET, field(now_s))
redis.call('PEXPIREAT', KEYS[1], exp)
return raw
