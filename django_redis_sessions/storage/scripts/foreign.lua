-- ARGV: (none)
-- Remove a key of another Redis type found where a session lives (a list left by
-- another application, or written by hand): the engine treats it as a corrupt
-- record, logs it by fingerprint and issues a fresh session. A string is never
-- removed here (it may be a session written meanwhile).
-- KEYS[1] the session key. Returns 1 removed, 0 left alone.
local kind = redis.call('TYPE', KEYS[1])
if type(kind) == 'table' then kind = kind.ok end  -- a status reply (fakeredis: a string)
if kind ~= 'string' and kind ~= 'none' then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
