-- fetch.lua: claim up to COUNT ready messages for one consumer, most urgent stream first.
--
-- KEYS[1..n]  priority streams to drain, in order (flowc:{q:<queue>}:p9 ... p0, per queue)
-- ARGV[1]     consumer group name ("workers")
-- ARGV[2]     consumer name (the worker process)
-- ARGV[3]     COUNT: the most messages to claim
--
-- Returns a flat array: key, entry id, field/value array, key, entry id, fields, ...
-- Claimed messages sit in the group's pending list (PEL) until acknowledged, so a worker that
-- dies holding them loses nothing. A stream whose group vanished (FLUSHDB, DEL) is re-joined.
-- ARGV[4]     optional: the wake group ("wake")
-- When nothing was claimed, returns {"idle", last id of KEYS[1], last id of KEYS[2], ...}: the
-- caller blocks in XREAD (which claims nothing) after those ids, then calls this again, so a
-- message that arrives while every worker waits is still taken in priority order.
-- With ARGV[4], it instead moves the wake group of every stream to its last entry (creating the
-- group if needed) and returns {"idle", "-", "-", ...}: the caller then blocks in XREADGROUP
-- on the wake group (NOACK: it claims nothing in the consumer group), which returns only
-- entries added after this point, and only to one waiter per entry (see redis_broker.py).
local want = tonumber(ARGV[3])
local wake = ARGV[4]
local out = {}
for _, key in ipairs(KEYS) do
  if want <= 0 then break end
  local res = redis.pcall('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', want,
                          'STREAMS', key, '>')
  if type(res) == 'table' and res.err then
    if string.find(res.err, 'NOGROUP') then
      redis.call('XGROUP', 'CREATE', key, ARGV[1], '0', 'MKSTREAM')
      res = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', want,
                       'STREAMS', key, '>')
    else
      return redis.error_reply(res.err)
    end
  end
  if res then
    for _, entry in ipairs(res[1][2]) do
      out[#out + 1] = key
      out[#out + 1] = entry[1]
      out[#out + 1] = entry[2]
      want = want - 1
    end
  end
end
if #out == 0 then
  out[1] = 'idle'
  for i, key in ipairs(KEYS) do
    if wake then
      -- nothing is unclaimed now, so nothing before '$' needs a waiter
      local res = redis.pcall('XGROUP', 'SETID', key, wake, '$')
      if type(res) == 'table' and res.err then
        redis.pcall('XGROUP', 'CREATE', key, wake, '$', 'MKSTREAM')
      end
      out[i + 1] = '-'
    else
      local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
      if last[1] then out[i + 1] = last[1][1] else out[i + 1] = '0-0' end
    end
  end
end
return out
