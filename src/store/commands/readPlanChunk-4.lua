--[[
  The planner's read of one chunk of an app's installations by position
  (InstallationStore.readChunk / readPlanChunk), in one call: the ids never travel to Redis
  (sending 15,000 arguments per chunk cost more client CPU than the planning itself).

  Input:
    KEYS[1]  installation id list (`installationIds`)
    KEYS[2]  data hash (`installationData`)
    KEYS[3]  version hash (`installationVersion`)
    KEYS[4]  approved hash (`installationApproved`)
    ARGV[1]  start position (LRANGE, inclusive)
    ARGV[2]  stop position (LRANGE, inclusive)

  Output: {ids, data, versions, approved}, four arrays of the same length, '' where a record,
  version or approval is absent.
]]
local ids = redis.call('LRANGE', KEYS[1], ARGV[1], ARGV[2])
local data, ver, appr = {}, {}, {}
local hasAppr = redis.call('EXISTS', KEYS[4]) == 1
for i = 1, #ids, 1000 do
  local part = {unpack(ids, i, math.min(i + 999, #ids))}
  local d = redis.call('HMGET', KEYS[2], unpack(part))
  local v = redis.call('HMGET', KEYS[3], unpack(part))
  local a = hasAppr and redis.call('HMGET', KEYS[4], unpack(part)) or nil
  for k = 1, #part do
    data[#data + 1] = d[k] or ''
    ver[#ver + 1] = v[k] or ''
    appr[#appr + 1] = a and a[k] or ''
  end
end
return {ids, data, ver, appr}
