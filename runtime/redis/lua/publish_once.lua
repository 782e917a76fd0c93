-- publish_once.lua: enqueue a message unless its idempotency key was used within the TTL.
--
-- KEYS[1]  the idempotency key      flowc:{q:<queue>}:idem:<key>   (the queue's slot)
-- KEYS[2]  where the message goes   flowc:{q:<queue>}:p<priority>  or  flowc:{q:<queue>}:delayed
-- ARGV[1]  the new task's id
-- ARGV[2]  the key's TTL in milliseconds
-- ARGV[3]  "ready" (XADD to the stream) or "delayed" (ZADD to the delayed set)
-- ARGV[4]  the stream body, or the delayed-set member (priority digit, tag byte, body)
-- ARGV[5]  the content tag (ready) or the due time in unix seconds (delayed)
--
-- Claiming the key and enqueueing are one step, so a crash can never leave a key that points at
-- a task that was not enqueued. Returns the first task's id when the key was taken, else nil.
local first = redis.call('GET', KEYS[1])
if first then return first end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
if ARGV[3] == 'delayed' then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
else
  redis.call('XADD', KEYS[2], '*', 'b', ARGV[4], 'c', ARGV[5])
end
return false
