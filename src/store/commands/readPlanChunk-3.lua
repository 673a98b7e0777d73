--[[
  The planner's read of one chunk of an app's installations by position
  (InstallationStore.readChunk / readPlanChunk), in one call: the ids never travel to Redis
  (sending 15,000 arguments per chunk cost more client CPU than the planning itself).

  An installation is one field of the data hash, `<version>\x1f<record JSON>\x1f<history>`
  (src/store/installation-record.ts). The history is cut off here: it grows by an entry per
  upgrade forever, and the planner needs only the version and the record (about a third less to
  send and parse per installation after one upgrade; docs/performance.md, "Rollout").

  On the rollout's hot path (a million installations, 5,000 per call): the approvals column is
  empty when the app has no approvals at all, so neither Redis nor the client handles a value per
  installation that says nothing.

  Input:
    KEYS[1]  installation id list (`installationIds`)
    KEYS[2]  data hash (`installationData`)
    KEYS[3]  approved hash (`installationApproved`)
    ARGV[1]  start position (LRANGE, inclusive)
    ARGV[2]  stop position (LRANGE, inclusive)

  Output: {ids, records, approved}: `records` as long as `ids`, each `<version>\x1f<record JSON>`
  (false, i.e. nil, where the installation has no record); `approved` as long as `ids` (nil where
  absent), or empty when the app's approved hash does not exist.
]]
local ids = redis.call('LRANGE', KEYS[1], ARGV[1], ARGV[2])
local n = #ids
if n == 0 then return {ids, {}, {}} end
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
local find, sub = string.find, string.sub
for k = 1, n do
  local r = data[k]
  if r then
    local a = find(r, '\31', 1, true)
    local b = a and find(r, '\31', a + 1, true)
    data[k] = b and sub(r, 1, b - 1) or false
  end
end
local appr = redis.call('EXISTS', KEYS[3]) == 1 and hmget(KEYS[3]) or {}
return {ids, data, appr}
