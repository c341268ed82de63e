-- ARGV: read, stub, life_ms
-- Redis Cluster, key rotation (ops.py): the rotated copy is already written
-- at the new key (another hash slot); leave the stub at the old key, unless a save
-- changed the session since the client read it (that save's data would be lost:
-- the client undoes the copy and tries again).
-- KEYS[1] old key. read: the bytes the client read, stub: the stub, life_ms: the stub's
-- life in ms, 0 for as long as the session (until the new key is confirmed).
-- Returns 1 stubbed, 0 changed or gone meanwhile.
local current = redis.call('GET', KEYS[1])
if not current or outside_load_touch(current) ~= outside_load_touch(argv.read) then
  return 0
end
local created, deadline, idle = header(current)
if not created then return 0 end
local now = now_ms()
local stub_exp = expiry_ms(now, idle, deadline)
if tonumber(argv.life_ms) > 0 then stub_exp = math.min(stub_exp, now + tonumber(argv.life_ms)) end
if stub_exp > now then
  redis.call('SET', KEYS[1], argv.stub, 'PXAT', stub_exp)
else
  redis.call('DEL', KEYS[1])
end
return 1
