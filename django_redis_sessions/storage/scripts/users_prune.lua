-- ARGV: pending_ms, entries...
-- Drop users from the users index after a reader found none of their sessions
-- alive (the overview) or their index gone (clearsessions, a Cluster sign-out).
-- A user goes only if their score is still the one the reader saw: a sign-in
-- raises it strictly, so a sign-in that ran after the reader looked keeps its
-- user. On a Cluster a sign-in raises the score (signin.lua) one step before it
-- claims the index entry (claim.lua), so a reader can see the new score and
-- still miss the entry: there the user also stays while the score is younger
-- than pending_ms (0 on one server, where a sign-in is one script).
-- KEYS[1] the users index. pending_ms: that window, entries: user id and the
-- score the reader saw, in pairs (REST on); -1 when the reader saw none (a
-- Cluster sign-out that emptied the index: the window alone guards it). Returns how many users were dropped.
local threshold = now_ms() - tonumber(argv.pending_ms)
local removed = 0
for i = REST, #ARGV - 1, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  local seen = tonumber(ARGV[i + 1])
  if score and (seen < 0 or tonumber(score) == seen) and tonumber(score) < threshold then
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return removed
