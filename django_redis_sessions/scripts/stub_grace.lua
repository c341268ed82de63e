-- A rotated session's new key has reached its browser (a request came with it):
-- the stub at the old key, which kept the old cookie working until then, now
-- lives only SESSION_REDIS_ROTATE_GRACE more (for requests already in flight).
-- KEYS[1] the old key. ARGV[1] the new digest, [2] the grace period in ms.
-- Returns 1 shortened, 0 no stub for this rotation there (already gone).
local stub = redis.call('GET', KEYS[1])
if not stub or string.byte(stub, 1) ~= 62 or string.sub(stub, 2, 33) ~= ARGV[1] then
  return 0
end
local grace = tonumber(ARGV[2])
local left = redis.call('PTTL', KEYS[1])
if grace <= 0 then
  redis.call('DEL', KEYS[1])
elseif left < 0 or left > grace then
  redis.call('PEXPIRE', KEYS[1], grace)
end
return 1
