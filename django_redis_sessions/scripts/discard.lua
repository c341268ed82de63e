-- Remove a record the client could not decode, unless it changed since it was read.
-- KEYS[1] session key, ARGV[1] the bytes that were read.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
