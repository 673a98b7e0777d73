--[[
  A bulk upgrade batch's read (BulkUpgradeStore.readBatch), in one call: a range of its
  candidates, and of those without an outcome yet, their versions, approvals and maintenance
  windows. The ids never travel to Redis (four reads of thousands of arguments per batch cost
  the client and Redis more than the batch's compare-and-set).

  An installation is one field of the data hash, `<version>\x1f<record JSON>\x1f<history>`
  (src/store/installation-record.ts). Windows: the record JSON (InstallationStore `encode`:
  `{s, p, c, m}`, `m` last, or `a` after it) is returned only when it may hold windows; one that
  ends with `,"m":null}` has none and comes back as ''. Any other record comes back whole and the
  caller reads its `m`, so a change of the encoding costs time, never a wrong answer.

  Input:
    KEYS[1]  candidate list (`bulkUpgradeCandidates`)
    KEYS[2]  outcome hash (`bulkUpgradeOutcomes`)
    KEYS[3]  approved hash (`installationApproved`)
    KEYS[4]  data hash (`installationData`)
    ARGV[1]  start position (LRANGE, inclusive)
    ARGV[2]  stop position (LRANGE, inclusive)

  Output: {ids, versions, approved, records}, four arrays of the same length: the candidates
  without an outcome, '' where a version, an approval or a record JSON that may hold windows is
  absent.
]]
local all = redis.call('LRANGE', KEYS[1], ARGV[1], ARGV[2])
local ids, ver, appr, data = {}, {}, {}, {}
local hasAppr = redis.call('EXISTS', KEYS[3]) == 1
local find, sub = string.find, string.sub
for i = 1, #all, 1000 do
  local part = {unpack(all, i, math.min(i + 999, #all))}
  local o = redis.call('HMGET', KEYS[2], unpack(part))
  local open = {}
  for k = 1, #part do
    if not o[k] then open[#open + 1] = part[k] end
  end
  if #open > 0 then
    local a = hasAppr and redis.call('HMGET', KEYS[3], unpack(open)) or nil
    local d = redis.call('HMGET', KEYS[4], unpack(open))
    for k = 1, #open do
      local r = d[k]
      local v, json = '', ''
      local p = r and find(r, '\31', 1, true)
      local q = p and find(r, '\31', p + 1, true)
      if q then
        v = sub(r, 1, p - 1)
        -- A plain find ending at the second separator: no windows, no string to return.
        if not find(r, ',"m":null}\31', q - 10, true) then json = sub(r, p + 1, q - 1) end
      end
      ids[#ids + 1] = open[k]
      ver[#ver + 1] = v
      appr[#appr + 1] = a and a[k] or ''
      data[#data + 1] = json
    end
  end
end
return {ids, ver, appr, data}
