-- ARGV: member, score, pending_seconds
-- Redis Cluster: add a session to its user's index BEFORE its record names the
-- user (ops.py), so a crash between the two steps leaves a stale entry, never
-- an unindexed session. A pending mark (PENDING_MARK .. member, scored claim time + the
-- window) beside the entry stops a concurrent prune from dropping the entry while
-- the record is still being written; pruning by score removes the mark later.
-- KEYS[1] the user's index. member: member, score: score (the session's deadline or
-- NO_DEADLINE; never lowered here), pending_seconds: pending window in seconds.
local _, now_s = now_ms()
redis.call('ZADD', KEYS[1], 'GT', argv.score, argv.member)
redis.call('ZADD', KEYS[1], now_s + tonumber(argv.pending_seconds), PENDING_MARK .. argv.member)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now_s)
index_ttl(KEYS[1])
return 1
