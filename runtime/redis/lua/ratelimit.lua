-- ratelimit.lua: reserve the next start slot of a rate-limited task, cluster-wide (GCRA).
--
-- KEYS[1]  the limit's theoretical arrival time   flowc:rate:{<task>}[:<limit key value>]
-- ARGV[1]  the emission interval in milliseconds: period / count, plus a sliver of guard
--
-- The key holds the next free slot in server milliseconds (Redis TIME, so worker clocks do not
-- matter). A caller gets slot = max(now, that) and moves it on by one interval, so granted
-- slots are evenly spaced: any window of one period holds at most `count` of them, and while
-- work waits every window holds `count` (or one less). A caller whose slot is in the future
-- keeps it (a reservation): it waits in the delayed set and runs then without asking again,
-- so waiting tasks do not stampede at each opening. Returns {wait_ms, slot_ms} as strings.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0') or 0)
local ttl = math.ceil(slot + interval - now) + 1000
redis.call('SET', KEYS[1], string.format('%.3f', slot + interval), 'PX', ttl)
return {string.format('%.3f', slot - now), string.format('%.3f', slot)}
