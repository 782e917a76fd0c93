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
-- ARGV[5..]   optional (a woken waiter's claim): indexes into KEYS of the streams whose wake
--             group the waiter just read. A wait that finds new entries in several streams
--             takes one wake from each, more than a batch of COUNT may claim: when the batch
--             is full, each such stream whose wake group is now past entries the consumer
--             group has not delivered gets its wake group moved back to the consumer group's
--             last-delivered id, so the next waiter is woken for what this one left.
-- #include _claim
local wake = ARGV[4]
local out = claim(ARGV[1], ARGV[2], tonumber(ARGV[3]), KEYS)
local want = tonumber(ARGV[3]) - #out / 3
local function id_before(a, b)  -- whether stream id a < stream id b
  local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
  local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
  ams, bms = tonumber(ams), tonumber(bms)
  if ams ~= bms then return ams < bms end
  return tonumber(aseq) < tonumber(bseq)
end
if want <= 0 and wake and #ARGV > 4 then
  for i = 5, #ARGV do
    local key = KEYS[tonumber(ARGV[i])]
    local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', key)
    if ok then
      local delivered, woken
      for _, g in ipairs(groups) do
        local name, last
        for j = 1, #g, 2 do
          if g[j] == 'name' then name = g[j + 1] elseif g[j] == 'last-delivered-id' then
            last = g[j + 1]
          end
        end
        if name == ARGV[1] then delivered = last elseif name == wake then woken = last end
      end
      if delivered and woken and id_before(delivered, woken) then
        redis.call('XGROUP', 'SETID', key, wake, delivered)
      end
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
