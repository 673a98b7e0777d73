--[[
  Registers a batch of installations of one app (InstallationStore.register, an upsert).

  Rules (DESIGN.md "Rollout rules": an installation never moves backwards and its history is
  kept):
  - a new installation is appended to the app's registration list, stored with its version,
    counted in the version distribution and given a `registered` history entry;
  - a known one only gets its record JSON replaced: its version is the store's, moved only by
    upgrades, and its history is kept;
  - the new ones take consecutive positions (the script is atomic) and are logged as one
    `<start>|<end>|<at>` entry for the late planner in the same step, so no registration can
    miss it (src/workers/late-installations.ts);
  - the app's set of installations with maintenance windows follows each record JSON written
    (added when it has windows, removed when it has none), so it stays exact. A record has no
    windows when its JSON contains `,"m":null,` or ends with `,"m":null}`
    (src/store/installation-record.ts, "Windows", says why that is exact).

  An installation is one field of the data hash, `<version>\x1f<record JSON>\x1f<history>`
  (src/store/installation-record.ts).

  The history entry is built here (one per new installation, up to 2,000 per call) rather than
  passed in: its format is defined by encodeHistoryEntry in src/rollout/installation-history.ts
  (`<at>|i|<version>`), and test/store/installation-store-scripts.redis.test.ts proves this script's
  entries decode there.

  Input:
    KEYS[1]  installation id list (`installationIds`)
    KEYS[2]  data hash (`installationData`: id → `<version>\x1f<JSON>\x1f<history>`)
    KEYS[3]  distribution hash (`versionDistribution`: version → count)
    KEYS[4]  registration log list (`installationLog`)
    KEYS[5]  windowed set (`installationWindowed`: ids whose record has maintenance windows)
    ARGV[1]  registration time, epoch ms
    ARGV[2…] triples: installation id, installation JSON, version

  Output: the number of new installations (integer).
]]
local at = ARGV[1]
local find = string.find
-- Whether a record JSON has maintenance windows (see the header).
local function windowed(json)
  return not (find(json, ',"m":null,', 1, true) or string.sub(json, -10) == ',"m":null}')
end
-- Removals only while the set exists: a re-registration of an app without windows costs no call.
local anyWindowed = redis.call('EXISTS', KEYS[5]) == 1
-- Keeps the set in step with the record JSON just written for `id`; `known`: an installation
-- registered before (only such a one can be in the set already).
local function track(id, json, known)
  if windowed(json) then
    redis.call('SADD', KEYS[5], id)
    anyWindowed = true
  elseif known and anyWindowed then
    redis.call('SREM', KEYS[5], id)
  end
end
local created = 0
local first = redis.call('LLEN', KEYS[1])
local dist = {}
for i = 2, #ARGV, 3 do
  local id, json, ver = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local r = redis.call('HGET', KEYS[2], id)
  if r then
    -- Known: the version before the first separator and the history after the second stay.
    local a = find(r, '\31', 1, true)
    local b = a and find(r, '\31', a + 1, true)
    if b then
      redis.call('HSET', KEYS[2], id, string.sub(r, 1, a) .. json .. string.sub(r, b))
      track(id, json, true)
    end
  else
    created = created + 1
    redis.call('RPUSH', KEYS[1], id)
    redis.call('HSET', KEYS[2], id, ver .. '\31' .. json .. '\31' .. at .. '|i|' .. ver)
    dist[ver] = (dist[ver] or 0) + 1
    track(id, json, false)
  end
end
for v, n in pairs(dist) do redis.call('HINCRBY', KEYS[3], v, n) end
if created > 0 then redis.call('RPUSH', KEYS[4], first .. '|' .. (first + created - 1) .. '|' .. at) end
return created
