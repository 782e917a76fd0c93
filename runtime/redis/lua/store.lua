-- store.lua: store a batch of terminal task results in one call.
--
-- KEYS[1..n]  result keys                   flowc:result:<task id>  (one-element lists)
-- ARGV[1]     TTL in seconds (0: keep forever)
-- ARGV[2..]   the records, in KEYS order (content tag byte + serialized record)
--
-- Each list is replaced (RPUSH, then LTRIM to that last element), so a task completed twice
-- still holds one record, and RPUSH wakes every client blocked in BLMOVE on it. Sent with
-- EVAL, not EVALSHA, so a server restart that empties the script cache never fails a flush.
-- The keys live in many slots: on a Redis Cluster the caller sends one call per slot
-- (runtime/redis/backend.py).
--
-- A full Redis (maxmemory, noeviction): Redis refuses a script's first write that may grow
-- memory when the server was over the limit as the script started, but lets every write
-- after a first one through (a script cannot stop halfway). So the first write here is the
-- RPUSH (refused: the flush fails with OOM, nothing is written), never a DEL that would let
-- the whole batch through past the limit; and callers keep each call's records small
-- (``STORE_CALL_BYTES``), so a call that starts just under the limit ends just over it.
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('RPUSH', key, ARGV[i + 1])
  redis.call('LTRIM', key, -1, -1)
  if ttl > 0 then redis.call('EXPIRE', key, ttl) end
end
return #KEYS
