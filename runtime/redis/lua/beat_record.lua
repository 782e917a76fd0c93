-- beat_record.lua: record that an entry handled its due times up to a given instant.
--
-- KEYS[1]  the lease                 flowc:{beat}:lock
-- KEYS[2]  the fencing counter       flowc:{beat}:fence
-- KEYS[3]  beat state (hash)         flowc:{beat}:state  (fields: see beat_claim.lua)
-- ARGV[1]  the caller's token
-- ARGV[2]  the caller's fence
-- ARGV[3]  entry name
-- ARGV[4]  the instant, unix microseconds
-- ARGV[5]  'advance': last:<entry> = max(last:<entry>, instant), and clear pending:<entry>
--          when it is <= instant (the claimed due time is now published);
--          'init': set last:<entry> = instant only if the entry has no state yet (a new entry
--          starts at the instant beat first sees it)
--
-- Returns -1 if the caller's token is not current, else 1. last:<entry> never moves backwards.
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= ARGV[2] then
  return -1
end
local field = 'last:' .. ARGV[3]
local at = tonumber(ARGV[4])
if ARGV[5] == 'init' then
  redis.call('HSETNX', KEYS[3], field, ARGV[4])
  return 1
end
local last = redis.call('HGET', KEYS[3], field)
if not last or tonumber(last) < at then
  redis.call('HSET', KEYS[3], field, ARGV[4])
end
local pending = redis.call('HGET', KEYS[3], 'pending:' .. ARGV[3])
if pending and tonumber(pending) <= at then
  redis.call('HDEL', KEYS[3], 'pending:' .. ARGV[3])
end
return 1
