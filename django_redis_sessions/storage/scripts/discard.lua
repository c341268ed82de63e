-- ARGV: read
-- Remove a record the client could not decode, unless it changed since it was read.
-- KEYS[1] session key, read: the bytes that were read. The load script may have
-- touched the record since: refreshed its last-seen field (any record whose header
-- fields it can read, even one shorter than a header) and, when the metadata
-- parses, rewritten the metadata with this client's IP and user agent. Those parts
-- are left out of the comparison; the other header fields and the data are what
-- a save would change.
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local read = argv.read
if outside_load_touch(current) == outside_load_touch(read) then
  return redis.call('DEL', KEYS[1])
end
return 0
