-- Remove a key of another Redis type found where a session lives (a list left by
-- another application, or written by hand): the engine treats it as a corrupt
-- record, logs it by fingerprint and issues a fresh session. A string is never
-- removed here (it may be a session written meanwhile).
-- KEYS[1] the session key. Returns 1 removed, 0 left alone.
if redis.call('TYPE', KEYS[1]).ok ~= 'string' and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
