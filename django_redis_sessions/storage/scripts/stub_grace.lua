-- ARGV: digest, grace_ms
-- Redis Cluster, confirming a rotation (ops.py, confirm_rotation): the stub at the
-- old key lives in another slot than the session, so the client shortens it in a
-- step of its own, before confirm.lua drops the mark.
-- KEYS[1] the old key. digest: the new digest, grace_ms: the grace period in ms.
-- Returns 1 shortened, 0 no stub for this rotation there (already gone).
return shorten_stub(KEYS[1], argv.digest, tonumber(argv.grace_ms))
