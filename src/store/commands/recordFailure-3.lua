--[[
  Records one failed upgrade of an installation in a rollout (RolloutStore.recordFailure: the
  error budget, src/rollout/phased-release.ts), once per installation and version: a report
  sent again changes nothing.

  Input:
    KEYS[1]  rollout hash (`rollout(appId, version)`)
    KEYS[2]  the rollout's failures hash (`rolloutFailures(appId, version)`)
    KEYS[3]  the app's installation records (`installationData(appId)`)
    ARGV[1]  installation id
    ARGV[2]  the failure's JSON (at, by, reason)

  Output:
    -1       no rollout: nothing written
    -2       the installation is not one of the app's: nothing written
    {1, n}   recorded; n failures in the rollout now
    {0, n}   recorded before (nothing written); n failures in the rollout
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 0 then return -2 end
local added = redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
return { added, redis.call('HLEN', KEYS[2]) }
