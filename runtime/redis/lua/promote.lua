-- promote.lua: move a queue's due countdown/eta messages onto its priority streams.
--
-- KEYS[1]      the queue's delayed set       flowc:{q:<queue>}:delayed
-- KEYS[2..11]  the queue's streams p0..p9    flowc:{q:<queue>}:p0 ... p9  (same slot)
-- ARGV[1]      now, unix seconds
-- ARGV[2]      the most messages to move in one call
--
-- A member of the delayed set is: one priority digit, one content tag byte, then the body.
-- Returns {moved, next_due} where next_due is the earliest remaining score, or -1.
-- Atomic, so any number of workers may call it: each due message moves exactly once.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  local priority = tonumber(string.sub(member, 1, 1))
  local tag = string.sub(member, 2, 2)
  redis.call('XADD', KEYS[2 + priority], '*', 'b', string.sub(member, 3), 'c', tag)
  redis.call('ZREM', KEYS[1], member)
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local next_due = -1
if nxt[2] then next_due = nxt[2] end
return {#due, next_due}
