-- ARGV: user_id, key_prefix, absolute_age, offset, limit, first
-- One page of a user's sessions, most recently active first, in one round trip
-- (one server only; a Cluster reads the same across slots, index_ops.py).
-- KEYS[1] the user's index, KEYS[2] the users index. user_id: user id,
-- key_prefix: session key prefix, absolute_age: current SESSIONS_ABSOLUTE_AGE
-- (0 = off; a lowered setting counts at once, as the load applies it),
-- offset, limit: the page, first: digests listed before all others (the
-- caller's own session; netstrings, '' for none).
-- Reads each session's header and the start of its metadata only (GETRANGE:
-- neither its data nor its expiry is touched), sorts by last seen (then
-- created, then digest), and returns the whole records of the page's sessions
-- only. Entries whose record is gone, is a rotation stub or names another user
-- are dropped from the index on the way; a record past its deadline (its next
-- load deletes it) or too corrupt to read is left alone and not counted.
-- Returns {total, member_1, record_1, member_2, record_2, ...}.
local idx, user, prefix = KEYS[1], argv.user_id, argv.key_prefix
local absolute_age = tonumber(argv.absolute_age)
local offset, limit = tonumber(argv.offset), tonumber(argv.limit)
local first = netstring_set(argv.first) or {}
local mine = ns(META_USER) .. ns(user)
local span = HEADER_LENGTH + 12 + #mine
local now = tonumber(redis.call('TIME')[1])
local live = {}
local pruned = false
for _, m in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  local head = redis.call('GETRANGE', prefix .. m, 0, span - 1)
  if head == '' or string.byte(head, 1) == STUB_BYTE then
    redis.call('ZREM', idx, m)
    pruned = true
  elseif string.byte(head, 1) == VERSION_BYTE and #head >= HEADER_LENGTH then
    -- The header's fields are read in place (no table per session): this loop
    -- runs once per session of the user.
    local created = tonumber(string.sub(head, CREATED_AT, CREATED_AT + FIELD_WIDTH - 1), 16)
    local deadline = tonumber(string.sub(head, DEADLINE_AT, DEADLINE_AT + FIELD_WIDTH - 1), 16)
    local readable = created and deadline
      and tonumber(string.sub(head, IDLE_AT, IDLE_AT + FIELD_WIDTH - 1), 16)
    local colon = readable and string.find(head, ':', HEADER_LENGTH + 1, true)
    if colon and colon > HEADER_LENGTH + 12 then colon = nil end
    if colon then
      if string.sub(head, colon + 1, colon + #mine) ~= mine then
        -- The record now belongs to someone else (or nobody): a stale entry.
        redis.call('ZREM', idx, m)
        pruned = true
      else
        if absolute_age > 0 and (deadline == 0 or created + absolute_age < deadline) then
          deadline = created + absolute_age
        end
        if deadline == 0 or deadline > now then
          local seen = tonumber(string.sub(head, SEEN_AT, SEEN_AT + FIELD_WIDTH - 1), 16) or 0
          live[#live + 1] = {m, first[m] and 1 or 0, seen, created}
        end
      end
    end
  end
end
if pruned then users_forget(KEYS[2], idx, user) end
-- The order: the caller's own session first, then last seen, created and
-- digest, all descending but the digest.
local function before(a, b)
  if a[2] ~= b[2] then return a[2] > b[2] end
  if a[3] ~= b[3] then return a[3] > b[3] end
  if a[4] ~= b[4] then return a[4] > b[4] end
  return a[1] < b[1]
end
-- Only the first offset + limit entries need an order. A page near the front of
-- many sessions keeps just those, in order, as it goes (most entries cost one
-- comparison with the last kept); a page far back sorts them all. Sorting
-- 10,000 entries with a Lua comparator costs more than reading their headers.
local wanted = math.min(offset + limit, #live)
if limit <= 0 then
  wanted = 0
elseif wanted * 8 < #live then
  local top = {}
  for _, e in ipairs(live) do
    if #top < wanted or before(e, top[#top]) then
      local low, high = 1, #top + 1
      while low < high do
        local mid = math.floor((low + high) / 2)
        if before(e, top[mid]) then high = mid else low = mid + 1 end
      end
      table.insert(top, low, e)
      if #top > wanted then top[#top] = nil end
    end
  end
  local total = #live
  live = top
  live.total = total
else
  table.sort(live, before)
end
local out = {live.total or #live}
for i = offset + 1, math.min(offset + limit, #live) do
  local raw = redis.call('GET', prefix .. live[i][1])
  if raw then
    out[#out + 1] = live[i][1]
    out[#out + 1] = raw
  end
end
return out
