--[[
  Plans a rollout whose every installation gets the same step at the same time straight onto
  the app's installation list (RolloutStore.planInstallationList): instead of copying each id
  into a bucket list, the plan records one bucket of kind `installations` whose ids are the
  installation list itself, positions 0 to the returned count - 1, and moves the plan cursor
  there, atomically (app/rollout/plan-version-rollout.ts says when a plan qualifies).

  The installation list only grows (RPUSH at registration; an app's removal deletes it whole),
  so positions below the cursor never change: the batches cut from this bucket name positions,
  as bucket batches do. Installations registered after this call are past the cursor: the plan's
  own end (finishPlanning, 'behind') or the late planner takes them, as for any plan.

  Rules, as pushBuckets.lua: writes nothing once the rollout is deleted (its app removed), nor
  when the stored cursor is not the expected one (another planner of the same version moved it).
  Writes nothing either when any installation of the app has maintenance windows (its windowed
  set is not empty), or when the app has approvals (its approved hash exists) and any
  installation runs one of the versions ARGV[3] names (those whose step an approval can change:
  a manual version lies between them and the planned one): their steps depend on more than
  their version, so the caller plans installation by installation. Checked in the same atomic
  step as the list's length, so no installation registered in between escapes the check.

  Input:
    KEYS[1]  buckets hash (`rolloutBuckets`: `<kind>:<at>` → id count)
    KEYS[2]  rollout hash (`rollout(appId, version)`)
    KEYS[3]  installation id list (`installationIds`)
    KEYS[4]  distribution hash (`versionDistribution`: version → installations running it)
    KEYS[5]  windowed set (`installationWindowed`: installations with maintenance windows)
    KEYS[6]  approved hash (`installationApproved`)
    ARGV[1]  the bucket time, epoch ms
    ARGV[2]  the expected cursor
    ARGV[3]  the versions whose step an approval can change, newline-separated ('' for none)

  Output:
    {n, distribution}  the bucket holds positions 0 … n - 1 and the cursor is n; the version
                       distribution as HGETALL gives it, read in the same atomic step (so it
                       counts exactly the installations of those positions that have a record:
                       the plan's summary is computed from it)
    -1                 no rollout: nothing written
    -2                 the stored cursor is not the expected one: nothing written
    -3                 an installation has windows, or runs a version of ARGV[3] while the app
                       has approvals: nothing written
]]
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
if (redis.call('HGET', KEYS[2], 'planCursor') or '0') ~= ARGV[2] then return -2 end
if redis.call('SCARD', KEYS[5]) > 0 then return -3 end
if ARGV[3] ~= '' and redis.call('EXISTS', KEYS[6]) == 1 then
  for v in string.gmatch(ARGV[3], '[^\n]+') do
    if tonumber(redis.call('HGET', KEYS[4], v) or '0') > 0 then return -3 end
  end
end
local n = redis.call('LLEN', KEYS[3])
if n > 0 then redis.call('HSET', KEYS[1], 'installations:' .. ARGV[1], n) end
redis.call('HSET', KEYS[2], 'planCursor', n)
return {n, redis.call('HGETALL', KEYS[4])}
