--[[
  Marks a rollout as superseded by a newer version of its app (RolloutStore.markSuperseded):
  informational, the status does not change (DESIGN.md "Rollout rules": an installation never
  moves backwards, so a newer version's rollout overtakes an older one in flight).

  Rule: writes only to an existing rollout (one with a status), so a rollout deleted with its
  app is not re-created.

  Input:
    KEYS[1]  rollout hash (`rollout(appId, version)`) of the older version
    ARGV[1]  the newer version

  Output (an integer): 1 marked, 0 no rollout (nothing written).
]]
if not redis.call('HGET', KEYS[1], 'status') then return 0 end
redis.call('HSET', KEYS[1], 'supersededBy', ARGV[1])
return 1
