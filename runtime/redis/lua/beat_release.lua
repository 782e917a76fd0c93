-- beat_release.lua: give up the beat lease on a clean stop, so a follower takes over at once.
--
-- KEYS[1]  the lease                 flowc:{beat}:lock
-- ARGV[1]  the token this process holds
--
-- Deletes the lease only if it still holds ARGV[1] (compare-and-delete); returns 1 if deleted.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
