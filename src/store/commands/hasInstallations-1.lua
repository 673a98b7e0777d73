--[[
  Which of the given installation ids an app's record hash has (HEXISTS each, in one call): the
  bucketed indexes' entries are checked against the records of the app they name
  (installation-index.ts), for a registration's conflict check and for lookups by id, once per
  app instead of once per id.

  Input:
    KEYS[1]    the app's record hash (keys.ts `installationData`: installation id → record)
    ARGV[1…]   installation ids

  Output: an array of 1 (has a record) or 0, in ARGV order.
]]
local out = {}
for i = 1, #ARGV do
  out[i] = redis.call('HEXISTS', KEYS[1], ARGV[i])
end
return out
