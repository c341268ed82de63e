-- ARGV: max_events, retention, events...
-- Append events to a user's audit log (policies/audit.py), keep the newest ones, renew its
-- lifetime. A script, not a MULTI, so that a resend after a lost reply appends
-- nothing twice (the receipt protocol of receipt.lua).
-- KEYS[1] the log. max_events: most events kept, retention: retention in seconds,
-- [3..] the encoded events, oldest first.
for i = REST, #ARGV do redis.call('LPUSH', KEYS[1], ARGV[i]) end
redis.call('LTRIM', KEYS[1], 0, tonumber(argv.max_events) - 1)
redis.call('EXPIRE', KEYS[1], argv.retention)
return 1
