--[[
  The upgrade batch's fast path (InstallationStore.upgradeRange): a range of a rollout bucket
  moved in one call, for a rollout whose decision depends only on an installation's current
  version and its approval (no phased release: `decideTarget` in src/rollout/version-ladder.ts,
  computed with `approvedUpTo` null; approvals below). The caller computes, for every
  version of the app's ladder, the version it goes to now (or none) and why; this script reads
  each installation of the range, looks its version up in that map and moves it. No id or
  version crosses to the client and back (the slow path reads each version and sends each move:
  about a million values each way for a million installations).

  As safe as the compare-and-set it stands for (compareAndSetVersions-3.lua), and atomic per
  call: the version is read and written in the same step; a batch run twice finds its
  installations on their target, which the map moves nowhere (a version's target is newer than
  it or none: never backwards), so nothing is moved or recorded twice.

  Per-installation approvals: the map marks each version whose decision an approval can change
  (the ladder's walk from it meets a manual version published by now; `decideTarget`). While the
  app's approvals hash exists, installations on such a version are not moved here but returned
  with the unknown ones, for the caller to decide with their approval; every other version's
  decision is the same whatever an installation approved, so it is applied here. An installation
  whose version is not in the map (a version outside the ladder) is left alone and returned, for
  the caller to decide one by one (and move by the compare-and-set).

  An installation is one field of the data hash, `<version>\x1f<record JSON>\x1f<history>`
  (src/store/installation-record.ts). A move rewrites it with the target version first and, at
  the end, the `deferred` entry the plan recorded for it (if any; rolloutDeferrals) then the
  `upgraded` entry `<at>|u|<from>|<to>|<cause code>` (encodeHistoryEntry in
  src/rollout/installation-history.ts; test/store/installation-store-scripts.redis.test.ts
  proves the entries decode there).

  Input:
    KEYS[1]  the bucket list (`rolloutBucket`)
    KEYS[2]  data hash (`installationData`)
    KEYS[3]  distribution hash (`versionDistribution`)
    KEYS[4]  the rollout's deferral hash (`rolloutDeferrals`)
    KEYS[5]  approved hash (`installationApproved`)
    ARGV[1]  upgrade time, epoch ms
    ARGV[2]  start position (LRANGE, inclusive)
    ARGV[3]  stop position (LRANGE, inclusive)
    ARGV[4]  the map, one line per version of the ladder:
             `<version>\t<target>\t<cause code>\t<approval matters: 1 or 0>`, target `-` when
             that version stays without an approval
    ARGV[5]  '1' to look deferrals up in KEYS[4], '0' not to

  Output: {considered, moved, deferred, targets, unknown}: ids in the range, installations moved,
  how many of those moves were deferred, a flat `<target>, <count>` list of the moves, and the ids
  of the installations left to the caller (a version not in the map, or one whose decision an
  approval can change while the app has approvals).
]]
local approvals = redis.call('EXISTS', KEYS[5]) == 1
local at = ARGV[1]
local ids = redis.call('LRANGE', KEYS[1], ARGV[2], ARGV[3])
local n = #ids
-- Per version of the map: {target, its `upgraded` entry, the entry after a `;`}. The entry is
-- the same for every installation moving from that version at this time, so it is built once
-- here rather than once per installation.
local map = {}
for v, t, c, a in string.gmatch(ARGV[4], '([^\t\n]+)\t([^\t\n]+)\t([^\t\n]+)\t([01])') do
  if approvals and a == '1' then
    -- Left out of the map: its installations are returned for the caller to decide.
    map[v] = nil
  elseif t ~= '-' then
    local e = at .. '|u|' .. v .. '|' .. t .. '|' .. c
    map[v] = {t, e, ';' .. e}
  else
    map[v] = false
  end
end
local withDeferrals = ARGV[5] == '1' and redis.call('EXISTS', KEYS[4]) == 1
local find, sub, byte = string.find, string.sub, string.byte
local moved, deferred = 0, 0
local dist, byTarget, unknown, done = {}, {}, {}, {}
for i = 1, n, 1000 do
  local j = math.min(i + 999, n)
  local recs = redis.call('HMGET', KEYS[2], unpack(ids, i, j))
  local out, m = {}, 0
  for k = 1, j - i + 1 do
    local r = recs[k]
    local a = r and find(r, '\31', 1, true)
    if a then
      local from = sub(r, 1, a - 1)
      local to = map[from]
      if to == nil then
        unknown[#unknown + 1] = ids[i + k - 1]
      elseif to and not done[ids[i + k - 1]] then
        -- `done`: an id listed twice in the range is moved once (its record was read before the move).
        local id, target = ids[i + k - 1], to[1]
        done[id] = true
        -- The record's history is empty when it ends with the separator: no `;` before the entry.
        local first = byte(r, -1) == 31
        local e = first and to[2] or to[3]
        if withDeferrals then
          local d = redis.call('HGET', KEYS[4], id)
          if d then
            e = (first and d or ';' .. d) .. to[3]
            deferred = deferred + 1
          end
        end
        out[m + 1] = id
        out[m + 2] = target .. sub(r, a) .. e
        m = m + 2
        dist[from] = (dist[from] or 0) - 1
        dist[target] = (dist[target] or 0) + 1
        byTarget[target] = (byTarget[target] or 0) + 1
        moved = moved + 1
      end
    end
  end
  if m > 0 then redis.call('HSET', KEYS[2], unpack(out, 1, m)) end
end
for v, c in pairs(dist) do
  if c ~= 0 then redis.call('HINCRBY', KEYS[3], v, c) end
end
local targets = {}
for t, c in pairs(byTarget) do
  targets[#targets + 1] = t
  targets[#targets + 1] = c
end
return {n, moved, deferred, targets, unknown}
