-- ARGV: user_id, key_prefix, keep, keep_newest, only
-- End every session of one user but those kept, reading the user's index inside
-- the script (one server only): a cycle_key or rotation moves a session's index
-- entry in the same script that moves the session, so there is no moment at which
-- a session of this user exists outside what this script reads. Once it returns,
-- no session of the user that existed before it ran can be read again: one that
-- cycle_key was moving finds its old key gone and starts empty, one that rotated
-- has only a stub left, pointing at nothing.
-- KEYS[1] the user's index, KEYS[2] the users index. user_id: user id, key_prefix: session key prefix, keep: digests
-- to keep (netstrings), keep_newest: '1' to keep also the most recently active session,
-- only: fingerprints (netstrings; '' for all): end only the sessions shown under
-- one of them, by their digest or by the fingerprint kept across rotations.
-- Entries whose record is gone or names another user are dropped; a record too
-- corrupt to name a user is ended, as a load would.
-- Returns the members of the sessions that were ended.
local idx, user, prefix = KEYS[1], argv.user_id, argv.key_prefix
local keep = netstring_set(argv.keep) or {}
local only = nil
if argv.only ~= '' then only = netstring_set(argv.only) end
local members = redis.call('ZRANGE', idx, 0, -1)
local records = {}
local newest, newest_seen, newest_created = nil, -1, -1
for _, m in ipairs(members) do
  local raw = redis.call('GET', prefix .. m)
  if not raw or string.byte(raw, 1) == STUB_BYTE then
    redis.call('ZREM', idx, m)
  else
    local owner = meta_user(raw)
    if owner ~= nil and owner ~= user then
      redis.call('ZREM', idx, m)
    elseif only == nil or only[string.sub(m, 1, FINGERPRINT_LENGTH)]
        or only[(pair_map(ns_read(raw, HEADER_LENGTH + 1) or '') or {})[META_ORIGIN] or ''] then
      records[#records + 1] = m
      local created = header(raw)
      if created then
        local seen = tonumber(string.sub(raw, SEEN_AT, SEEN_AT + FIELD_WIDTH - 1), 16) or 0
        if seen > newest_seen or (seen == newest_seen and created > newest_created) then
          newest, newest_seen, newest_created = m, seen, created
        end
      end
    end
  end
end
if argv.keep_newest == '1' and newest then keep[newest] = true end
local ended = {}
for _, m in ipairs(records) do
  if not keep[m] then
    redis.call('DEL', prefix .. m)
    redis.call('ZREM', idx, m)
    ended[#ended + 1] = m
  end
end
index_ttl(idx)
users_forget(KEYS[2], idx, user)
return ended
