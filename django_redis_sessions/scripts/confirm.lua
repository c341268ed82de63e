-- Drop the "rotation not yet confirmed" mark ('p', the old digest) from a
-- session's metadata, once stub_grace.lua has shortened the old key's stub.
-- KEYS[1] the session key. Returns 1 dropped, 0 nothing to drop.
local raw = redis.call('GET', KEYS[1])
if not raw or not header(raw) then return 0 end
local meta, data_pos = ns_read(raw, HEADER_LENGTH + 1)
local have = meta and pair_map(meta)
if not (have and have['p']) then return 0 end
local kept = pairs_without(meta, 1, {p = true}, USER_META)
if not kept then return 0 end
redis.call('SET', KEYS[1],
  string.sub(raw, 1, HEADER_LENGTH) .. build_meta(have['u'] or '', kept, '') .. string.sub(raw, data_pos),
  'KEEPTTL')
return 1
