-- ARGV: max_score, users...
-- clearsessions: list users whose index was written before the users index
-- existed (an upgrade), with score 1 (their sign-in time is unknown: they list
-- last), and keep the users index's TTL at least at max_score (the longest of
-- their indexes' TTLs, as a unix time; NO_DEADLINE when one has none). Users
-- already listed keep their score.
-- KEYS[1] the users index. Returns how many users were added.
local existed = redis.call('EXISTS', KEYS[1]) == 1
local added = 0
for i = REST, #ARGV do
  added = added + redis.call('ZADD', KEYS[1], 'NX', 1, ARGV[i])
end
if added > 0 then users_ttl(KEYS[1], existed, tonumber(argv.max_score)) end
return added
