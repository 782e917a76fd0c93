-- publish.lua: XADD a ready message once, even when the client sends the call twice.
--
-- KEYS[1]  the stream                  flowc:{q:<queue>}:p<priority>
-- KEYS[2]  the producer's last number  flowc:{q:<queue>}:producer:<token>  (the queue's slot)
-- ARGV[1]  this publish's number: increasing per producer (a thread of one process, token)
-- ARGV[2]  the producer key's TTL in milliseconds
-- ARGV[3]  the body
-- ARGV[4]  the content tag
--
-- A client that loses the reply with a dropped connection re-sends the same call (redis-py's
-- retries, the held connection's): its number is then not above the one stored, so the second
-- copy adds nothing. One thread publishes in order, so numbers reach Redis in order.
-- Returns 1 when the entry was added, 0 for a repeat.
local last = redis.call('GET', KEYS[2])
if last and tonumber(ARGV[1]) <= tonumber(last) then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', tonumber(ARGV[2]))
redis.call('XADD', KEYS[1], '*', 'b', ARGV[3], 'c', ARGV[4])
return 1
