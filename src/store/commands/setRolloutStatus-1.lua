--[[
  Compare-and-set of a rollout's status (RolloutStore.transition: pause, resume, halt).

  The rule (which action leads where) is pure TypeScript: transitionRollout in
  src/rollout/rollout-status.ts (DESIGN.md "Rollout rules"; the lifecycle in rollout-status.ts).
  The store reads the status, computes the next one there and writes it here only if the status
  is still what it read; on `stale` it reads again and retries.

  A phased release's state (`phases`, src/rollout/phased-release.ts) moves with the status (a
  pause starts its pause time, a resume moves its next step later): when ARGV[5] is given, the
  stored `phases` must also still be what was read, and ARGV[6..] are field/value pairs written
  with the status (`phases`, `pause`: the pause in progress, '' = none).

  Rule kept here: writes only to an existing rollout (a rollout deleted with its app is not
  re-created by a late operator action or plan).

  Input:
    KEYS[1]  rollout hash (`rollout(appId, version)`)
    ARGV[1]  expected status (as read)
    ARGV[2]  expected resumeTo (as read; '' = none)
    ARGV[3]  new status
    ARGV[4]  new resumeTo ('' = none)
    ARGV[5]  optional: expected `phases` (as read; '' = none)
    ARGV[6..] optional: field, value pairs to write along

  Output (a status string):
    'ok'       written
    'stale'    status, resumeTo or phases changed since the read: nothing written
    'missing'  no rollout (no status field): nothing written
]]
local cur = redis.call('HMGET', KEYS[1], 'status', 'resumeTo', 'phases')
if not cur[1] then return 'missing' end
if cur[1] ~= ARGV[1] or (cur[2] or '') ~= ARGV[2] then return 'stale' end
if ARGV[5] ~= nil and (cur[3] or '') ~= ARGV[5] then return 'stale' end
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'resumeTo', ARGV[4])
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 'ok'
