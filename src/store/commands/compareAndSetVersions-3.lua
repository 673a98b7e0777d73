--[[
  The upgrade compare-and-set (InstallationStore.compareAndSetVersions): moves each installation
  to its target version only if it still runs the version the caller read, so concurrent or
  redelivered upgrade batches never upgrade one twice. The version distribution follows, and
  each move is appended to the installation's history with its time, after the maintenance
  deferral its plan recorded for it, if any.

  Rules: DESIGN.md "Rollout rules" (an installation never moves backwards and never skips being
  recorded; the caller only asks for forward moves; an upgrade that falls in a maintenance window
  is deferred to the window's end, and each deferral is kept in the history).

  An installation is one field of the data hash, `<version>\x1f<record JSON>\x1f<history>`
  (src/store/installation-record.ts): a move rewrites it with the target version first and the
  entries appended at the end.

  The `upgraded` history entry is built here (up to 2,000 moves per call, on the rollout's hot
  path) rather than passed in: its format is defined by encodeHistoryEntry in
  src/rollout/installation-history.ts (`<at>|u|<from>|<to>|<cause code>`, cause code `a`
  automatic or `p` by approval), and test/store/installation-store-scripts.redis.test.ts proves
  this script's entries decode there. The `deferred` entry is read as the planner encoded it
  (encodeHistoryEntry) from the rollout's deferral hash and appended as it is, once: the move
  happens once.

  Input:
    KEYS[1]  data hash (`installationData`: id → `<version>\x1f<JSON>\x1f<history>`)
    KEYS[2]  distribution hash (`versionDistribution`: version → count)
    KEYS[3]  the rollout's deferral hash (`rolloutDeferrals`: id → encoded `deferred` entry)
    ARGV[1]  upgrade time, epoch ms
    ARGV[2]  the moves, one line each `<id>\t<expected>\t<target>\t<cause code>` (one argument:
             thousands of arguments cost the client more than the script costs Redis)
    ARGV[3]  '1' to look deferrals up in KEYS[3], '0' not to

  Output: {moved, deferred}: installations moved, and how many of those moves were deferred.
]]
local at = ARGV[1]
-- One EXISTS per call spares an HGET per move when the plan recorded no deferral.
local withDeferrals = ARGV[3] == '1' and redis.call('EXISTS', KEYS[3]) == 1
local moved, deferred = 0, 0
local dist = {}
local find, sub = string.find, string.sub
for id, expected, target, cause in string.gmatch(ARGV[2], '([^\t\n]+)\t([^\t\n]+)\t([^\t\n]+)\t([^\t\n]+)') do
  local r = redis.call('HGET', KEYS[1], id)
  local a = r and find(r, '\31', 1, true)
  if a and sub(r, 1, a - 1) == expected then
    dist[expected] = (dist[expected] or 0) - 1
    dist[target] = (dist[target] or 0) + 1
    local e = at .. '|u|' .. expected .. '|' .. target .. '|' .. cause
    if withDeferrals then
      local d = redis.call('HGET', KEYS[3], id)
      if d then
        e = d .. ';' .. e
        deferred = deferred + 1
      end
    end
    -- An empty history (the record ends with its separator) takes the entry without a `;`.
    if sub(r, -1) ~= '\31' then e = ';' .. e end
    redis.call('HSET', KEYS[1], id, target .. sub(r, a) .. e)
    moved = moved + 1
  end
end
for v, n in pairs(dist) do
  if n ~= 0 then redis.call('HINCRBY', KEYS[2], v, n) end
end
return {moved, deferred}
