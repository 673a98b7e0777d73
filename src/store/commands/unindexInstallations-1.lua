--[[
  Deletes entries of one bucket of a bucketed index (the global index or the by-site index,
  keys.ts `installationIndexBucket`, `siteIndexBucket`) when they still hold the expected value:
  AppRemover.remove (`mpu apps remove`) for a removed app's installations, and an adoption for
  the by-site entries of the app its installations left.

  Rule: an entry is deleted only if it still names what the caller expects (the app, or the
  installation), so an entry another app or installation took meanwhile is never touched.

  Input:
    KEYS[1]    one bucket (HASH: digest or fallback field → app id or installation id)
    ARGV[1…]   pairs: field, expected value

  Output: the number of entries deleted (integer).
]]
local n = 0
for i = 1, #ARGV - 1, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then n = n + redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return n
