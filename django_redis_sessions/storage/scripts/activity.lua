-- ARGV: key_prefix, absolute_age
-- Per-user activity for the admin overview, folded on the server: for each index,
-- how many of its sessions are live and when the most recent was last seen. Only
-- two numbers per user cross the network, instead of one reply per session.
-- KEYS[1..n] user indexes. key_prefix: session key prefix, absolute_age: current
-- SESSION_REDIS_ABSOLUTE_AGE (0 = off; a lowered setting counts at once, as the
-- load applies it).
-- Reads each session's 33-byte header only (GETRANGE), which neither loads its
-- data nor slides its expiry. A header that cannot be read still counts (the
-- session exists), as never seen.
-- Returns {live_1, last_seen_1, live_2, last_seen_2, ...}.
local prefix = argv.key_prefix
local absolute_age = tonumber(argv.absolute_age)
local now = tonumber(redis.call('TIME')[1])
local out = {}
for i = 1, #KEYS do
  local live, last = 0, 0
  for _, member in ipairs(redis.call('ZRANGE', KEYS[i], 0, -1)) do
    local head = redis.call('GETRANGE', prefix .. member, 0, HEADER_LENGTH - 1)
    if head ~= '' then
      local h = header(head)
      if not h then
        live = live + 1
      else
        local deadline = h.deadline
        if absolute_age > 0 and (deadline == 0 or h.created + absolute_age < deadline) then
          deadline = h.created + absolute_age
        end
        if deadline == 0 or deadline > now then
          live = live + 1
          local seen = tonumber(string.sub(head, SEEN_AT, SEEN_AT + FIELD_WIDTH - 1), 16) or 0
          if seen > last then last = seen end
        end
      end
    end
  end
  out[#out + 1] = live
  out[#out + 1] = last
end
return out
