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
-- strings and integers (every write script's reply fits). Defined where they are
-- needed: Lua builds a closure for each local function on every run, and most
-- runs need only the integer case.
local done = redis.call('GET', RECEIPT)
if done then
  local function unpack_item(s)
    local kind, rest = string.sub(s, 1, 1), string.sub(s, 2)
    if kind == 'i' then return tonumber(rest) end
    if kind == 's' then return rest end
    return false
  end
  if string.sub(done, 1, 1) ~= 't' then return unpack_item(done) end
  local out, pos = {}, 2
  while pos <= #done do
    local item
    item, pos = ns_read(done, pos)
    out[#out + 1] = unpack_item(item)
  end
  return out
end
local reply = operation()
local packed
-- Every number a write script returns is an integer below 2^53, which Lua's
-- own number-to-string conversion writes without a fraction or exponent.
if type(reply) == 'number' then
  packed = 'i' .. reply
else
  local function pack_item(v)
    if type(v) == 'number' then return 'i' .. v end
    if type(v) == 'string' then return 's' .. v end
    return 'n'
  end
  if type(reply) == 'table' then
    local parts = {'t'}
    for _, item in ipairs(reply) do parts[#parts + 1] = ns(pack_item(item)) end
    packed = table.concat(parts)
  else
    packed = pack_item(reply)
  end
end
-- pcall: on a full Redis (maxmemory, noeviction) a script that wrote nothing may
-- not write its receipt either; running it again is then harmless, because it
-- had no effect. One that did write is past Redis's out-of-memory check.
redis.pcall('SET', RECEIPT, packed, 'PX', RECEIPT_MS)
return reply
