--[[
  Records a Forge deployment that creates no version (a non-production environment), so that a
  repeat of it is recognised (VersionStore.recordDeploymentWithoutVersion). DESIGN.md "Detection
  rules": staging and development deployments yield no version.

  Rules: never overwrites a deployment that has a version (HSETNX); never writes for an app
  that is not registered (removed meanwhile, app-remover.ts).

  Input:
    KEYS[1]  app hash (`app`)
    KEYS[2]  deployments hash (`deployments`: deployment id → version, '-' = none)
    ARGV[1]  deployment id

  Output (an integer):
    1   recorded as '-'
    0   the deployment was recorded already: nothing written
    -1  no app record: nothing written
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('HSETNX', KEYS[2], ARGV[1], '-')
