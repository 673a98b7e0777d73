--[[
  The upgrade compare-and-set (InstallationStore.compareAndSetVersions): moves each installation
  to its target version only if it still runs the version the caller read, so concurrent or
  redelivered upgrade batches never upgrade one twice. The version distribution follows, and
  each move is appended to the installation's history with its time, after the maintenance
  deferral its plan recorded for it, if any.

  Rules: DESIGN.md "Rollout rules" (an installation never moves backwards and never skips being
  recorded; the caller only asks for forward moves; an upgrade that falls in a maintenance window
  is deferred to the window's end, and each deferral is kept in the history).

  The `upgraded` history entry is built here (up to 2,000 moves per call, on the rollout's hot
  path) rather than passed in: its format is defined by encodeHistoryEntry in
  src/rollout/installation-history.ts (`<at>|u|<from>|<to>|<cause code>`, cause code `a`
  automatic or `p` by approval), and test/store/installation-store-scripts.redis.test.ts proves
  this script's entries decode there. The `deferred` entry is read as the planner encoded it
  (encodeHistoryEntry) from the rollout's deferral hash and appended as it is, once: the move
  happens once.

  Input:
    KEYS[1]  version hash (`installationVersion`: id → version)
    KEYS[2]  distribution hash (`versionDistribution`: version → count)
    KEYS[3]  history hash (`installationHistory`: id → `;`-separated entries)
    KEYS[4]  the rollout's deferral hash (`rolloutDeferrals`: id → encoded `deferred` entry)
    ARGV[1]  upgrade time, epoch ms
    ARGV[2]  the moves, one line each `<id>\t<expected>\t<target>\t<cause code>` (one argument:
             thousands of arguments cost the client more than the script costs Redis)
    ARGV[3]  '1' to look deferrals up in KEYS[4], '0' not to

  Output: {moved, deferred}: installations moved, and how many of those moves were deferred.
]]
local at = ARGV[1]
-- One EXISTS per call spares an HGET per move when the plan recorded no deferral.
local withDeferrals = ARGV[3] == '1' and redis.call('EXISTS', KEYS[4]) == 1
local moved, deferred = 0, 0
local dist = {}
for id, expected, target, cause in string.gmatch(ARGV[2], '([^\t\n]+)\t([^\t\n]+)\t([^\t\n]+)\t([^\t\n]+)') do
  if redis.call('HGET', KEYS[1], id) == expected then
    redis.call('HSET', KEYS[1], id, target)
    dist[expected] = (dist[expected] or 0) - 1
    dist[target] = (dist[target] or 0) + 1
    local e = at .. '|u|' .. expected .. '|' .. target .. '|' .. cause
    if withDeferrals then
      local d = redis.call('HGET', KEYS[4], id)
      if d then
        e = d .. ';' .. e
        deferred = deferred + 1
      end
    end
    local h = redis.call('HGET', KEYS[3], id)
    if h then e = h .. ';' .. e end
    redis.call('HSET', KEYS[3], id, e)
    moved = moved + 1
  end
end
for v, n in pairs(dist) do
  if n ~= 0 then redis.call('HINCRBY', KEYS[2], v, n) end
end
return {moved, deferred}
