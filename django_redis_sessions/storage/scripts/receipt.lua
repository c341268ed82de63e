-- The retry-safe protocol (receipts.py), wrapped around every write
-- script: the client appends a receipt key (named by an operation id it chose,
-- in the hash slot of KEYS[1]) to KEYS and the receipt's lifetime in ms to ARGV.
-- A run records its reply under the receipt key; a second run of the same call
-- (redis-py resent it because the first reply was lost) finds the receipt and
-- returns the same reply without touching anything else. Both the effects and the
-- receipt are replicated as one transaction, so a replica promoted by a failover
-- holds both or neither.
local RECEIPT = table.remove(KEYS)
local RECEIPT_MS = table.remove(ARGV)

-- A reply as bytes and back: nil/false, an integer, a string, or a flat table of
-- strings and integers (every write script's reply fits).
local function pack_item(v)
  -- Every number a write script returns is an integer below 2^53, which Lua's
  -- own number-to-string conversion writes without a fraction or exponent.
  if type(v) == 'number' then return 'i' .. v end
  if type(v) == 'string' then return 's' .. v end
  return 'n'
end

local function unpack_item(s)
  local kind, rest = string.sub(s, 1, 1), string.sub(s, 2)
  if kind == 'i' then return tonumber(rest) end
  if kind == 's' then return rest end
  return false
end

local function pack_reply(v)
  if type(v) ~= 'table' then return pack_item(v) end
  local parts = {'t'}
  for _, item in ipairs(v) do parts[#parts + 1] = ns(pack_item(item)) end
  return table.concat(parts)
end

local function unpack_reply(s)
  if string.sub(s, 1, 1) ~= 't' then return unpack_item(s) end
  local out, pos = {}, 2
  while pos <= #s do
    local item
    item, pos = ns_read(s, pos)
    out[#out + 1] = unpack_item(item)
  end
  return out
end

local done = redis.call('GET', RECEIPT)
if done then return unpack_reply(done) end
local reply = operation()
-- pcall: on a full Redis (maxmemory, noeviction) a script that wrote nothing may
-- not write its receipt either; running it again is then harmless, because it
-- had no effect. One that did write is past Redis's out-of-memory check.
redis.pcall('SET', RECEIPT, pack_reply(reply), 'PX', RECEIPT_MS)
return reply
