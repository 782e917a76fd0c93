-- _claim.lua: the claim loop shared by fetch.lua and workflow.lua (scripts.py splices this file
-- where a script says "-- #include _claim"; Redis runs each script as one text).
--
-- claim(group, consumer, want, keys): up to want ready entries for consumer, from the streams
-- in the given (priority) order, as a flat list: key, entry id, fields, key, entry id, ...
-- Claimed entries sit in the group's pending list until acknowledged. A stream whose group
-- vanished (FLUSHDB, DEL) is re-joined.
local function claim(group, consumer, want, keys)
  local out = {}
  for _, key in ipairs(keys) do
    if want <= 0 then break end
    local res = redis.pcall('XREADGROUP', 'GROUP', group, consumer, 'COUNT', want,
                            'STREAMS', key, '>')
    if type(res) == 'table' and res.err then
      if not string.find(res.err, 'NOGROUP') then error(res.err) end
      redis.call('XGROUP', 'CREATE', key, group, '0', 'MKSTREAM')
      res = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', want,
                       'STREAMS', key, '>')
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
  return out
end
