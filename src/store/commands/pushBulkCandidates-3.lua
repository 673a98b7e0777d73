--[[
  One step of planning a bulk upgrade (BulkUpgradeStore.pushCandidates): appends the
  installations of one chunk of its scope that run the source major version to its candidate
  list, records the listed installations it skips (an explicit list's ids that are not the
  app's, or not on the source major) and advances its cursor, all at once, so a planner killed
  between two steps resumes at the cursor and lists nobody twice.

  Input:
    KEYS[1]  bulk upgrade record hash (`bulkUpgrade`)
    KEYS[2]  candidate list (`bulkUpgradeCandidates`)
    KEYS[3]  outcome hash (`bulkUpgradeOutcomes`: id → `moved` or a skip reason)
    ARGV[1]  the cursor the caller read (positions of the scope planned)
    ARGV[2]  the new cursor
    ARGV[3]  number of skipped pairs that follow
    ARGV[4…] skipped pairs `<id>`, `<reason>`, then the candidate ids

  Output: 1 appended, 0 the cursor moved (another planner did this step), -1 the bulk upgrade
  is not running (cancelled, finished, expired).
]]
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return -1 end
if (redis.call('HGET', KEYS[1], 'cursor') or '0') ~= ARGV[1] then return 0 end
local skips = tonumber(ARGV[3])
local i = 4
for _ = 1, skips do
  if redis.call('HSETNX', KEYS[3], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('HINCRBY', KEYS[1], 'failed', 1)
    redis.call('HINCRBY', KEYS[1], 'skip:' .. ARGV[i + 1], 1)
    redis.call('HINCRBY', KEYS[1], 'total', 1)
  end
  i = i + 2
end
local n = #ARGV - i + 1
for k = i, #ARGV, 5000 do
  redis.call('RPUSH', KEYS[2], unpack(ARGV, k, math.min(k + 4999, #ARGV)))
end
if n > 0 then redis.call('HINCRBY', KEYS[1], 'total', n) end
redis.call('HSET', KEYS[1], 'cursor', ARGV[2])
return 1
