--[[
  Compare-and-set of a rollout's status (RolloutStore.transition: pause, resume, halt).

  The rule (which action leads where) is pure TypeScript: transitionRollout in
  src/rollout/rollout-status.ts (DESIGN.md "Rollout rules"; the lifecycle in rollout-status.ts).
  The store reads the status, computes the next one there and writes it here only if the status
  is still what it read; on `stale` it reads again and retries.

  Rule kept here: writes only to an existing rollout (a rollout deleted with its app is not
  re-created by a late operator action or plan).

  Input:
    KEYS[1]  rollout hash (`rollout(appId, version)`)
    ARGV[1]  expected status (as read)
    ARGV[2]  expected resumeTo (as read; '' = none)
    ARGV[3]  new status
    ARGV[4]  new resumeTo ('' = none)

  Output (a status string):
    'ok'       written
    'stale'    status or resumeTo changed since the read: nothing written
    'missing'  no rollout (no status field): nothing written
]]
local cur = redis.call('HMGET', KEYS[1], 'status', 'resumeTo')
if not cur[1] then return 'missing' end
if cur[1] ~= ARGV[1] or (cur[2] or '') ~= ARGV[2] then return 'stale' end
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'resumeTo', ARGV[4])
return 'ok'
