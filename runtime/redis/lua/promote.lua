-- promote.lua: move a queue's due countdown/eta messages onto its priority streams.
--
-- KEYS[1]      the queue's delayed set       flowc:{q:<queue>}:delayed
-- KEYS[2..11]  the queue's streams p0..p9    flowc:{q:<queue>}:p0 ... p9  (same slot)
-- ARGV[1]      the most messages to move in one call
--
-- Due means: score <= the server's TIME (never a worker's clock, which may be off).
-- A member of the delayed set is: one priority digit, one content tag byte, then the body.
-- Returns {moved, wait} where wait is the seconds until the earliest remaining score (as a
-- string), or -1 when none is left. Atomic, so any number of workers may call it: each due
-- message moves exactly once.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, member in ipairs(due) do
  local priority = tonumber(string.sub(member, 1, 1))
  local tag = string.sub(member, 2, 2)
  redis.call('XADD', KEYS[2 + priority], '*', 'b', string.sub(member, 3), 'c', tag)
  redis.call('ZREM', KEYS[1], member)
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = -1
if nxt[2] then wait = string.format('%.6f', math.max(0, tonumber(nxt[2]) - now)) end
return {#due, wait}
