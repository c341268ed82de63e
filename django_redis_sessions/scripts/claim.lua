-- Redis Cluster: add a session to its user's index BEFORE its record names the
-- user (cluster.py), so a crash between the two steps leaves a stale entry, never
-- an unindexed session. A pending mark ('p:' .. member, scored claim time + the
-- window) beside the entry stops a concurrent prune from dropping the entry while
-- the record is still being written; pruning by score removes the mark later.
-- KEYS[1] the user's index. ARGV[1] member, [2] score (the session's deadline or
-- NO_DEADLINE; never lowered here), [3] pending window in seconds.
local _, now_s = now_ms()
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[1], now_s + tonumber(ARGV[3]), 'p:' .. ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now_s)
index_ttl(KEYS[1])
return 1
