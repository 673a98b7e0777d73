--[[
  Moves installations of a Connect app to its Forge successor (InstallationStore.adoptInstallations;
  DESIGN.md "Connect to Forge adoption"), each by a compare-and-set on the Connect version the
  caller judged, and each at most once per adopting Forge version (its outcome is recorded), so
  concurrent or redelivered batches never move one twice.

  A move, in one atomic step: the installation leaves the Connect app (its record, version,
  approval and "update available" fields are deleted; its id stays in the Connect registration
  list, whose positions never change, and readers skip ids without a record), the global index
  names the Forge app, and the Forge app gets it at the adopting version: appended to its
  registration list (logged for the late planner, as a registration is), its record, version
  and distribution. Its history (the Connect history, then a `moved` entry naming the Connect
  version it moved from) is written in both apps.

  This script spans two apps' hash tags and the global index: it needs the apps' keys on one
  Redis node (a single Redis, as deployed; in a Redis Cluster, hash-tag both apps alike).

  The history entry is built here, in the format of src/rollout/installation-history.ts
  (`<at>|m|<connect app>@<connect version>|<forge app>@<forge version>|<a or p>`);
  test/store/adoption-scripts.redis.test.ts proves it decodes there.

  Input:
    KEYS[1]   installation index (`installationIndex`: id → app id)
    KEYS[2]   Connect data hash          KEYS[3]  Connect version hash
    KEYS[4]   Connect approved hash      KEYS[5]  Connect available hash
    KEYS[6]   Connect distribution hash  KEYS[7]  Connect history hash
    KEYS[8]   Forge id list              KEYS[9]  Forge data hash
    KEYS[10]  Forge version hash         KEYS[11] Forge distribution hash
    KEYS[12]  Forge history hash         KEYS[13] Forge registration log list
    KEYS[14]  outcome hash of the adoption (`adoptionOutcomes`: id → `m|<connect version>|<cause>`)
    ARGV[1]   time, epoch ms
    ARGV[2]   Connect app id    ARGV[3] Forge app id    ARGV[4] adopting Forge version
    ARGV[5]   the moves, one line each `<id>\t<expected Connect version>\t<cause code a or p>`

  Output: {moved, conflicts, done}: moved now; not moved because the installation no longer runs
  the expected Connect version (or left the Connect app); moved before (outcome recorded).
]]
local at, capp, fapp, fver = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local moved, conflicts, done = 0, 0, 0
local first = redis.call('LLEN', KEYS[8])
local out = {}
for id, expected, cause in string.gmatch(ARGV[5], '([^\t\n]+)\t([^\t\n]+)\t([^\t\n]+)') do
  if redis.call('HEXISTS', KEYS[14], id) == 1 then
    done = done + 1
  elseif redis.call('HGET', KEYS[3], id) ~= expected then
    conflicts = conflicts + 1
  else
    local data = redis.call('HGET', KEYS[2], id)
    local e = at .. '|m|' .. capp .. '@' .. expected .. '|' .. fapp .. '@' .. fver .. '|' .. cause
    local h = redis.call('HGET', KEYS[7], id)
    if h then e = h .. ';' .. e end
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
    redis.call('HDEL', KEYS[4], id)
    redis.call('HDEL', KEYS[5], id)
    redis.call('HINCRBY', KEYS[6], expected, -1)
    redis.call('HSET', KEYS[7], id, e)
    redis.call('HSET', KEYS[1], id, fapp)
    redis.call('RPUSH', KEYS[8], id)
    redis.call('HSET', KEYS[9], id, data)
    redis.call('HSET', KEYS[10], id, fver)
    redis.call('HSET', KEYS[12], id, e)
    redis.call('HSET', KEYS[14], id, 'm|' .. expected .. '|' .. cause)
    moved = moved + 1
  end
end
if moved > 0 then
  redis.call('HINCRBY', KEYS[11], fver, moved)
  redis.call('RPUSH', KEYS[13], first .. '|' .. (first + moved - 1) .. '|' .. at)
end
return {moved, conflicts, done}
