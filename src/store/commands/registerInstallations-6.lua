--[[
  Registers a batch of installations of one app (InstallationStore.register, an upsert).

  Rules (DESIGN.md "Rollout rules": an installation never moves backwards and its history is
  kept):
  - a new installation is appended to the app's registration list, stored with its version,
    counted in the version distribution and given a `registered` history entry;
  - a known one only gets its data updated: its version is the store's, moved only by upgrades;
  - the new ones take consecutive positions (the script is atomic) and are logged as one
    `<start>|<end>|<at>` entry for the late planner in the same step, so no registration can
    miss it (src/workers/late-installations.ts).

  The history entry is built here (one per new installation, up to 2,000 per call) rather than
  passed in: its format is defined by encodeHistoryEntry in src/rollout/installation-history.ts
  (`<at>|i|<version>`), and test/store/installation-store-scripts.redis.test.ts proves this script's
  entries decode there.

  Input:
    KEYS[1]  installation id list (`installationIds`)
    KEYS[2]  data hash (`installationData`: id → installation JSON)
    KEYS[3]  version hash (`installationVersion`: id → version)
    KEYS[4]  distribution hash (`versionDistribution`: version → count)
    KEYS[5]  history hash (`installationHistory`: id → `;`-separated entries)
    KEYS[6]  registration log list (`installationLog`)
    ARGV[1]  registration time, epoch ms
    ARGV[2…] triples: installation id, installation JSON, version

  Output: the number of new installations (integer).
]]
local at = ARGV[1]
local created = 0
local first = redis.call('LLEN', KEYS[1])
local dist = {}
for i = 2, #ARGV, 3 do
  local id, json, ver = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if redis.call('HSET', KEYS[2], id, json) == 1 then
    created = created + 1
    redis.call('RPUSH', KEYS[1], id)
    redis.call('HSET', KEYS[3], id, ver)
    dist[ver] = (dist[ver] or 0) + 1
    redis.call('HSET', KEYS[5], id, at .. '|i|' .. ver)
  end
end
for v, n in pairs(dist) do redis.call('HINCRBY', KEYS[4], v, n) end
if created > 0 then redis.call('RPUSH', KEYS[6], first .. '|' .. (first + created - 1) .. '|' .. at) end
return created
