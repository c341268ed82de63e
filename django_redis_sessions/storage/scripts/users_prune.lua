-- ARGV: pending_ms, entries...
-- Drop users from the users index after a reader found none of their sessions
-- alive (the overview) or their index gone (clearsessions, a Cluster sign-out).
-- A user goes only if their score is still the one the reader saw: a sign-in
-- raises it strictly, so a sign-in that ran after the reader looked keeps its
-- user. (On a Cluster a sign-in claims its index entry before it raises the
-- score, and a reader keeps a user whose index holds a pending claim, so a
-- reader that saw the new score never gets here for that user.)
-- KEYS[1] the users index. pending_ms: how young a score must be to be kept when
-- the caller saw none, entries: user id and the score the reader saw, in pairs
-- (REST on); -1 when the caller saw none (a Cluster sign-out or revocation that
-- emptied the index: it did not read the users index, so only the age of the
-- score guards a sign-in racing it; 0 on one server, where it never happens).
-- Returns how many users were dropped.
local threshold = now_ms() - tonumber(argv.pending_ms)
local removed = 0
for i = REST, #ARGV - 1, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  local seen = tonumber(ARGV[i + 1])
  if score and (tonumber(score) == seen or (seen < 0 and tonumber(score) < threshold)) then
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return removed
