-- ARGV: user_id, score, signin
-- Redis Cluster: list a user in the users index (prelude's users_touch) after its
-- index entry is claimed (claim.lua, ops.py) and before the record names the
-- user, so a crash between the steps leaves at worst a listed user with no
-- session (readers prune it), never a session whose user the overview cannot
-- find. Claiming first means a reader that sees the new score also sees the
-- pending claim, and keeps the user (users_prune.lua). On one server save.lua
-- and cycle.lua do this in the same script as the index entry.
-- KEYS[1] the users index. user_id: the user, score: the index score being claimed
-- (the users index's TTL is raised to cover it), signin: '1' when the session joins
-- this user (their latest sign-in), '0' when only its deadline rose.
users_touch(KEYS[1], argv.user_id, argv.signin == '1', tonumber(argv.score))
return 1
