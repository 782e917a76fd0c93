-- ratelimit.lua: reserve the next start slot of a rate-limited task, cluster-wide.
--
-- KEYS[1]  the limit's log (sorted set)   flowc:rate:{<task>}[:<limit key value>]
-- ARGV[1]  N: starts allowed per window
-- ARGV[2]  the window in milliseconds (the period plus a small guard for start jitter)
-- ARGV[3]  a member unique to this attempt (task id and stream entry id)
--
-- The log holds the start slots already granted (scores in server milliseconds, Redis TIME, so
-- worker clocks do not matter), some of them in the future. The new slot is the earliest time
-- s >= now such that fewer than N granted slots lie in (s - window, s]: since slots are granted
-- in order, s = max(now, the N-th most recent slot + window). So any window of that length
-- holds at most N starts, and with work waiting every window holds N: a sliding-window limit
-- with reservations, no thundering herd of retries. Returns {wait_ms, slot_ms}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
local slot = now
if n >= limit then
  local nth = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  slot = math.max(now, tonumber(nth[2]) + window)
end
redis.call('ZADD', KEYS[1], slot, ARGV[3])
redis.call('PEXPIRE', KEYS[1], slot - now + window + 1000)
return {slot - now, slot}
