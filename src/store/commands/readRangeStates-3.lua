--[[
  An upgrade batch's read (InstallationStore.readRangeStates): a range of a plan bucket's
  installation ids with their current versions and approvals, in one call (the ids never travel
  to Redis).

  Input:
    KEYS[1]  a list of installation ids (a plan bucket, `rolloutBucket`)
    KEYS[2]  version hash (`installationVersion`)
    KEYS[3]  approved hash (`installationApproved`)
    ARGV[1]  start position (LRANGE, inclusive)
    ARGV[2]  stop position (LRANGE, inclusive)

  Output: {ids, versions, approved}, three arrays of the same length, '' where a version or
  approval is absent.
]]
local ids = redis.call('LRANGE', KEYS[1], ARGV[1], ARGV[2])
local ver, appr = {}, {}
local hasAppr = redis.call('EXISTS', KEYS[3]) == 1
for i = 1, #ids, 1000 do
  local part = {unpack(ids, i, math.min(i + 999, #ids))}
  local v = redis.call('HMGET', KEYS[2], unpack(part))
  local a = hasAppr and redis.call('HMGET', KEYS[3], unpack(part)) or nil
  for k = 1, #part do
    ver[#ver + 1] = v[k] or ''
    appr[#appr + 1] = a and a[k] or ''
  end
end
return {ids, ver, appr}
