-- beat_publish.lua: publish one task message for one (entry, due time), at most once.
--
-- KEYS[1]  the fired marker          flowc:{q:<queue>}:beat:<entry>:<due_us>  (PX ttl)
-- KEYS[2]  where the message goes:   flowc:{q:<queue>}:p<priority>   (a stream; 'xadd')
--                                 or flowc:{q:<queue>}:delayed       (sorted set; 'zadd')
-- ARGV[1]  the marker's TTL in milliseconds
-- ARGV[2]  the task id (the marker's value)
-- ARGV[3]  'xadd' or 'zadd'
-- ARGV[4]  the encoded message body
-- ARGV[5]  the content tag byte
-- ARGV[6]  'zadd' only: the eta (unix seconds) and ARGV[7] the priority digit
--
-- Both keys carry the queue's hash tag, so this is one slot on Redis Cluster: the marker and
-- the message are written together or not at all. Returns {1, task_id} when published, or
-- {0, task id of the earlier publish} when the marker exists (a duplicate; nothing is written).
if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[1]) then
  return {0, redis.call('GET', KEYS[1])}
end
if ARGV[3] == 'xadd' then
  redis.call('XADD', KEYS[2], '*', 'b', ARGV[4], 'c', ARGV[5])
else
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[7] .. ARGV[5] .. ARGV[4])
end
return {1, ARGV[2]}
