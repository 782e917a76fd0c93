-- beat_claim.lua: the leader claims one (entry, due time) before publishing it.
--
-- KEYS[1]  the lease                 flowc:{beat}:lock
-- KEYS[2]  the fencing counter       flowc:{beat}:fence
-- KEYS[3]  beat state (hash)         flowc:{beat}:state
--            last:<entry>     last handled fire time, unix microseconds
--            pending:<entry>  a due time claimed and not yet recorded (see beat_record.lua)
-- ARGV[1]  the caller's token ("<fence>:<candidate>")
-- ARGV[2]  the caller's fence (the number in its token)
-- ARGV[3]  entry name
-- ARGV[4]  the due time, unix microseconds
--
-- Returns -1 if the caller's token is not current (the lease is gone or another process holds
-- it: a deposed leader publishes nothing), 0 if the entry already handled this due time
-- (last:<entry> >= due), else 1 after setting pending:<entry> = due.
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= ARGV[2] then
  return -1
end
local last = redis.call('HGET', KEYS[3], 'last:' .. ARGV[3])
if last and tonumber(last) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('HSET', KEYS[3], 'pending:' .. ARGV[3], ARGV[4])
return 1
