-- ARGV: digest, grace_ms
-- A rotated session's new key has reached its browser (a request came with it):
-- the stub at the old key, which kept the old cookie working until then, now
-- lives only SESSIONS_ROTATE_GRACE more (for requests already in flight), and
-- the "rotation not yet confirmed" mark ('p', the old digest) leaves the metadata.
-- KEYS[1] the session key, KEYS[2] the old key (one server; on a Cluster the client
-- has run stub_grace.lua on it already, and KEYS[2] repeats KEYS[1]).
-- digest: the session's digest, grace_ms: the grace period in ms.
-- Returns 1 dropped, 0 nothing to drop.
if not CLUSTER then shorten_stub(KEYS[2], argv.digest, tonumber(argv.grace_ms)) end
local raw = redis.call('GET', KEYS[1])
if not raw or not header(raw) then return 0 end
local meta, data_pos = ns_read(raw, HEADER_LENGTH + 1)
local have = meta and pair_map(meta)
if not (have and have[META_PENDING]) then return 0 end
local kept = pairs_without(meta, 1, {[META_PENDING] = true}, USER_META)
if not kept then return 0 end
redis.call('SET', KEYS[1],
  string.sub(raw, 1, HEADER_LENGTH) .. build_meta(have[META_USER] or '', kept, '') .. string.sub(raw, data_pos),
  'KEEPTTL')
return 1
