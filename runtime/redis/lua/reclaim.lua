-- reclaim.lua: return a lost consumer's claimed messages to the ready side of their stream.
--
-- KEYS[1]     the stream                    flowc:{q:<queue>}:p<priority>
-- ARGV[1]     consumer group name ("workers")
-- ARGV[2]     the lost consumer's name
-- ARGV[3]     the most entries to return in this call
-- ARGV[4..n]  optional entry ids: return only these (orphans of a live consumer), if still
--             pending for ARGV[2]; without them, return every pending entry of ARGV[2] and,
--             once it has none left, delete the consumer from the group
--
-- Each entry is re-added at the stream's tail with field d = deliveries so far (d + 1), then
-- acknowledged and deleted: never both pending and ready, never lost in between. Field d is
-- how a consumer recognises a redelivery and how a poison pill is stopped (max_deliveries).
-- Idempotent: an entry no longer pending for the consumer is left alone.
-- Returns {returned, more} where more = 1 if the consumer still has pending entries.
local group, consumer, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])

local function give_back(id)
  local entries = redis.call('XRANGE', KEYS[1], id, id)
  local returned = 0
  if entries[1] then
    local fields, out, d = entries[1][2], {}, 0
    for i = 1, #fields, 2 do
      if fields[i] == 'd' then
        d = tonumber(fields[i + 1]) or 0
      else
        out[#out + 1] = fields[i]
        out[#out + 1] = fields[i + 1]
      end
    end
    out[#out + 1] = 'd'
    out[#out + 1] = tostring(d + 1)
    redis.call('XADD', KEYS[1], '*', unpack(out))
    returned = 1
  end
  redis.call('XACK', KEYS[1], group, id)
  redis.call('XDEL', KEYS[1], id)
  return returned
end

local n = 0
if #ARGV > 3 then
  for i = 4, #ARGV do
    local mine = redis.call('XPENDING', KEYS[1], group, ARGV[i], ARGV[i], 1, consumer)
    if mine[1] then n = n + give_back(ARGV[i]) end
  end
  return {n, 0}
end

local ok, pending = pcall(redis.call, 'XPENDING', KEYS[1], group, '-', '+', limit, consumer)
if not ok then return {0, 0} end  -- no such stream or group: nothing to return
for _, p in ipairs(pending) do n = n + give_back(p[1]) end
if #pending < limit then
  redis.call('XGROUP', 'DELCONSUMER', KEYS[1], group, consumer)
  return {n, 0}
end
return {n, 1}
