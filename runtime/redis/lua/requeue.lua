-- requeue.lua: put claimed messages back on their stream (warm shutdown, Reject(requeue=True)).
--
-- KEYS[1]     the stream the messages were claimed from
-- ARGV[1]     consumer group name
-- ARGV[2..n]  entry ids to return
--
-- Each message is re-added at the stream's tail with its fields unchanged, then acknowledged
-- and deleted, so it is never both pending and ready, and never lost in between.
local n = 0
for i = 2, #ARGV do
  local entries = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])
  if entries[1] then
    redis.call('XADD', KEYS[1], '*', unpack(entries[1][2]))
    n = n + 1
  end
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
  redis.call('XDEL', KEYS[1], ARGV[i])
end
return n
