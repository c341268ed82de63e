-- Remove a record the client could not decode, unless it changed since it was read.
-- KEYS[1] session key, ARGV[1] the bytes that were read. The load script may have
-- refreshed the last-seen field since, so that field is left out of the comparison.
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local read = ARGV[1]
local function outside_seen(s)
  if #s < HEADER_LENGTH then return s end
  return string.sub(s, 1, SEEN_OFFSET) .. string.sub(s, SEEN_OFFSET + 9)
end
if outside_seen(current) == outside_seen(read) then
  return redis.call('DEL', KEYS[1])
end
return 0
