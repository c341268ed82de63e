-- Append events to a user's audit log (audit.py), keep the newest ones, renew its
-- lifetime. A script, not a MULTI, so that a resend after a lost reply appends
-- nothing twice (the receipt protocol of receipt.lua).
-- KEYS[1] the log. ARGV[1] most events kept, [2] retention in seconds,
-- [3..] the encoded events, oldest first.
for i = 3, #ARGV do redis.call('LPUSH', KEYS[1], ARGV[i]) end
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[1]) - 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
