--[[
  One step of planning a bulk upgrade whose scope is the app's whole installation list
  (BulkUpgradeStore.planChunk), read and written inside Redis: the next chunk of the list from
  the record's cursor, the versions of its installations, those on the source major appended to
  the candidate list, `total` and the cursor advanced, all at once. The ids never travel to the
  client and back (reading them, their versions and pushing the candidates from the client took
  three round trips of thousands of arguments per chunk, and made the plan the slowest part of a
  bulk upgrade of a million). A planner killed between two steps resumes at the cursor and lists
  nobody twice, as with pushBulkCandidates-3.lua (used for an explicit list of installations).

  The major version is the leading number of a semantic version (`2.4.1` → 2, as semver.major
  reads the versions the store holds), matched at the start of the installation's record, which
begins with its version; an installation without a record is not a candidate.

  Input:
    KEYS[1]  bulk upgrade record hash (`bulkUpgrade`)
    KEYS[2]  candidate list (`bulkUpgradeCandidates`)
    KEYS[3]  the app's installation id list (`installationIds`)
    KEYS[4]  data hash (`installationData`: id → `<version>\x1f<JSON>\x1f<history>`, the
             version first, src/store/installation-record.ts)
    ARGV[1]  the cursor the caller read (positions of the scope planned)
    ARGV[2]  most positions to read (the chunk size)
    ARGV[3]  source major version

  Output: {1, positions read, candidates appended}; {0, 0, 0} the cursor moved (another planner
  did this step); {-1, 0, 0} the bulk upgrade is not running (cancelled, finished, expired).
]]
local rec = KEYS[1]
local f = redis.call('HMGET', rec, 'status', 'cursor', 'scopeEnd')
if f[1] ~= 'running' then return {-1, 0, 0} end
if (f[2] or '0') ~= ARGV[1] then return {0, 0, 0} end
local cursor = tonumber(ARGV[1])
local stop = math.min(cursor + tonumber(ARGV[2]), tonumber(f[3] or '0')) - 1
if stop < cursor then return {1, 0, 0} end
local ids = redis.call('LRANGE', KEYS[3], cursor, stop)
local from = tonumber(ARGV[3])
local found = {}
for i = 1, #ids, 1000 do
  local part = {unpack(ids, i, math.min(i + 999, #ids))}
  local v = redis.call('HMGET', KEYS[4], unpack(part))
  for k = 1, #part do
    local major = v[k] and string.match(v[k], '^v?(%d+)%.%d+%.%d+')
    if major and tonumber(major) == from then found[#found + 1] = part[k] end
  end
end
for i = 1, #found, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(found, i, math.min(i + 999, #found)))
end
if #found > 0 then redis.call('HINCRBY', rec, 'total', #found) end
redis.call('HSET', rec, 'cursor', cursor + #ids)
return {1, #ids, #found}
