--[[
  The planner's read of one chunk of an app's installations by position
  (InstallationStore.readChunk / readPlanChunk), in one call: the ids never travel to Redis
  (sending 15,000 arguments per chunk cost more client CPU than the planning itself).

  On the rollout's hot path (a million installations, 5,000 per call): the HMGET replies are
  returned as Redis gave them (nil where absent) rather than copied into new tables, and the
  approvals column is empty when the app has no approvals at all, so neither Redis nor the
  client handles a value per installation that says nothing (docs/performance.md, "Rollout").

  Input:
    KEYS[1]  installation id list (`installationIds`)
    KEYS[2]  data hash (`installationData`)
    KEYS[3]  version hash (`installationVersion`)
    KEYS[4]  approved hash (`installationApproved`)
    ARGV[1]  start position (LRANGE, inclusive)
    ARGV[2]  stop position (LRANGE, inclusive)

  Output: {ids, data, versions, approved}: `data` and `versions` as long as `ids`, nil where a
  record or version is absent; `approved` as long as `ids` (nil where absent), or empty when the
  app's approved hash does not exist.
]]
local ids = redis.call('LRANGE', KEYS[1], ARGV[1], ARGV[2])
local n = #ids
if n == 0 then return {ids, {}, {}, {}} end
-- HMGET in parts of 1,000 fields (unpack's stack limit), the replies concatenated.
local function hmget(key)
  if n <= 1000 then return redis.call('HMGET', key, unpack(ids)) end
  local out, m = {}, 0
  for i = 1, n, 1000 do
    local part = redis.call('HMGET', key, unpack(ids, i, math.min(i + 999, n)))
    for k = 1, #part do out[m + k] = part[k] end
    m = m + #part
  end
  return out
end
local data = hmget(KEYS[2])
local ver = hmget(KEYS[3])
local appr = redis.call('EXISTS', KEYS[4]) == 1 and hmget(KEYS[4]) or {}
return {ids, data, ver, appr}
