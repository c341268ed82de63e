-- ARGV: absolute_age, meta
-- Load a session and slide its expiry in the same round trip (the hot path: kept
-- to the fewest Lua operations; Python validates the record fully).
-- KEYS[1] session key. absolute_age: current SESSIONS_ABSOLUTE_AGE (0 = off): a
-- lowered setting applies to existing sessions at once. meta: metadata pairs
-- of this request (ip, ua) from the request-metadata middleware, '' without it:
-- when one differs from the stored value the record is rewritten with it, in
-- this same round trip (most requests match and only touch last-seen).
-- Returns the stored bytes (as they were before this touch), or false; or, when
-- Redis is full (maxmemory reached with noeviction), {bytes, 'full'}: the expiry
-- still slid (PEXPIREAT is allowed when full) but last-seen and the metadata were
-- not written. A read must not fail because a write it does on the side cannot.
-- (A load that has nothing to write, last-seen being this second already, cannot
-- tell that Redis is full: the next load that writes does.)
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local created = tonumber(string.sub(raw, CREATED_AT, CREATED_AT + FIELD_WIDTH - 1), 16)
local deadline = tonumber(string.sub(raw, DEADLINE_AT, DEADLINE_AT + FIELD_WIDTH - 1), 16)
local idle = tonumber(string.sub(raw, IDLE_AT, IDLE_AT + FIELD_WIDTH - 1), 16)
if string.byte(raw, 1) ~= VERSION_BYTE or not (created and deadline and idle) then
  return raw  -- not ours: the client reports and removes it
end
local absolute_age = tonumber(argv.absolute_age)
-- A SESSIONS_ABSOLUTE_AGE lowered since the record was written.
local capped = absolute_age > 0 and (deadline == 0 or created + absolute_age < deadline)
if capped then
  deadline = created + absolute_age
end
local t = redis.call('TIME')
local now_s = tonumber(t[1])
local now = now_s * 1000 + math.floor(tonumber(t[2]) / 1000)
local exp = expiry_ms(now, idle, deadline)
if exp <= now then
  -- Past its absolute deadline: dead whatever its TTL said. Its index entry is
  -- pruned by score or by the next existence check.
  redis.call('DEL', KEYS[1])
  return false
end
local full = false
local supplied = argv.meta
if supplied ~= '' then
  local meta, data_pos = ns_read(raw, HEADER_LENGTH + 1)
  local have = meta and pair_map(meta)
  local want = pair_map(supplied)
  if have and want then
    for k, v in pairs(want) do
      if have[k] ~= v then
        local head = string.sub(raw, 1, SEEN_OFFSET) .. field(now_s)
          .. string.sub(raw, SEEN_AT + FIELD_WIDTH, HEADER_LENGTH)
        local kept = pairs_without(meta, 1, want, USER_META) or ''
        local written = redis.pcall('SET', KEYS[1],
          head .. build_meta(have[META_USER] or '', kept, supplied) .. string.sub(raw, data_pos),
          'PXAT', exp)
        if type(written) == 'table' and written.err then
          full = true
          break
        end
        return raw
      end
    end
  end
end
-- Last-seen and the expiry slide with a resolution of one second. Every script
-- that writes last-seen sets the expiry from the same header in the same call,
-- so a record already seen this second (a page's own requests, mostly) was slid
-- this second too: nothing to write, and the write commands are most of what a
-- script costs the server (measured in docs/benchmarks.md). Not when a lowered
-- absolute age moved the deadline: that applies at once.
local seen = field(now_s)
if not (full or capped) and string.sub(raw, SEEN_AT, SEEN_AT + FIELD_WIDTH - 1) == seen then
  return raw
end
local touched = redis.pcall('SETRANGE', KEYS[1], SEEN_OFFSET, seen)
full = type(touched) == 'table' and touched.err ~= nil
redis.call('PEXPIREAT', KEYS[1], exp)
if full then return {raw, 'full'} end
return raw
