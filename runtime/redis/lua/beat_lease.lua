-- beat_lease.lua: acquire or renew the beat leader's lease, taking a new fencing token.
--
-- KEYS[1]  the lease                 flowc:{beat}:lock   (string "<fence>:<candidate>", PX ttl)
-- KEYS[2]  the fencing counter       flowc:{beat}:fence  (integer, never reset)
-- ARGV[1]  this process's candidate id (unique per start: host, pid, random)
-- ARGV[2]  the lease TTL in milliseconds
-- ARGV[3]  the token this process holds, or '' when it holds none
--
-- Returns {1, token} when the caller leads after the call (its lease was extended, or it took
-- the free lease with a new token: INCR fence, SET lock "<fence>:<candidate>" PX ttl), and
-- {0, holder} when another process holds the lease. A token is never reused: a process that
-- lost its lease (it expired while paused) gets a new, larger fence when it leads again.
local current = redis.call('GET', KEYS[1])
if current then
  if ARGV[3] ~= '' and current == ARGV[3] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, current}
  end
  return {0, current}
end
local fence = redis.call('INCR', KEYS[2])
local token = fence .. ':' .. ARGV[1]
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return {1, token}
