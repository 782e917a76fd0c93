-- store.lua: store a batch of terminal task results in one call.
--
-- KEYS[1..n]  result keys                   flowc:result:<task id>  (one-element lists)
-- ARGV[1]     TTL in seconds (0: keep forever)
-- ARGV[2..]   the records, in KEYS order (content tag byte + serialized record)
--
-- Each list is replaced (DEL + RPUSH), so a task completed twice still holds one record, and
-- RPUSH wakes every client blocked in BLMOVE on it. Sent with EVAL, not EVALSHA, so a server
-- restart that empties the script cache never fails a flush. The keys live in many slots: on
-- a Redis Cluster the caller sends one call per slot (runtime/redis/backend.py).
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('DEL', key)
  redis.call('RPUSH', key, ARGV[i + 1])
  if ttl > 0 then redis.call('EXPIRE', key, ttl) end
end
return #KEYS
