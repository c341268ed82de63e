-- ARGV: key_prefix, absolute_age, cap
-- Per-user activity for the admin overview, folded on the server: for each index,
-- how many of its sessions are live and when the most recent was last seen. Only
-- two numbers per user cross the network, instead of one reply per session.
-- KEYS[1..n] user indexes. key_prefix: session key prefix, absolute_age: current
-- SESSIONS_ABSOLUTE_AGE (0 = off; a lowered setting counts at once, as the
-- load applies it).
-- Reads each session's 33-byte header only (GETRANGE), which neither loads its
-- data nor slides its expiry. A header that cannot be read still counts (the
-- session exists), as never seen.
-- cap (0 = none) bounds the headers read per user, so a page of the overview costs
-- the page's whatever its users hold: an index with more entries than cap is
-- read in two halves, cap/2 random entries (ZRANDMEMBER: the share of them
-- still live, times the index's size, estimates the count) and the cap/2 of the
-- latest deadline (the newest sessions, where the latest activity almost always
-- is); its row is then flagged as estimated.
-- Returns {live_1, last_seen_1, estimated_1, live_2, ...}.
local prefix = argv.key_prefix
local absolute_age = tonumber(argv.absolute_age)
local now = tonumber(redis.call('TIME')[1])
local cap = tonumber(argv.cap)
local out = {}

-- live (0/1) and last seen of one indexed session.
local function read(member)
  local head = redis.call('GETRANGE', prefix .. member, 0, HEADER_LENGTH - 1)
  if head == '' then return 0, 0 end
  local created, deadline = header(head)
  if not created then return 1, 0 end
  if absolute_age > 0 and (deadline == 0 or created + absolute_age < deadline) then
    deadline = created + absolute_age
  end
  if deadline == 0 or deadline > now then
    return 1, tonumber(string.sub(head, SEEN_AT, SEEN_AT + FIELD_WIDTH - 1), 16) or 0
  end
  return 0, 0
end

for i = 1, #KEYS do
  local live, last, estimated = 0, 0, 0
  local size = redis.call('ZCARD', KEYS[i])
  if cap > 0 and size > cap then
    estimated = 1
    local half = math.floor(cap / 2)
    local sampled, alive = 0, 0
    for _, member in ipairs(redis.call('ZRANDMEMBER', KEYS[i], half)) do
      local is_live, seen = read(member)
      sampled = sampled + 1
      alive = alive + is_live
      if seen > last then last = seen end
    end
    for _, member in ipairs(redis.call('ZREVRANGE', KEYS[i], 0, half - 1)) do
      local _, seen = read(member)
      if seen > last then last = seen end
    end
    live = math.floor(size * alive / sampled + 0.5)
  else
    for _, member in ipairs(redis.call('ZRANGE', KEYS[i], 0, -1)) do
      local is_live, seen = read(member)
      live = live + is_live
      if seen > last then last = seen end
    end
  end
  out[#out + 1] = live
  out[#out + 1] = last
  out[#out + 1] = estimated
end
return out
