--[[
  Compare-and-set of a rollout's phased-release state (RolloutStore.setPhases): a phase step by
  the schedule, an operator's advance or complete, the record of a released cohort slice, or a
  phased release given to a rollout in flight. The rules are pure TypeScript
  (src/rollout/phased-release.ts); the store writes the new state only if the stored one is
  still what it read, and reads again on `stale`. A pause and a resume change `phases` too
  (setRolloutStatus-1.lua), so a step never overwrites a pause that came in between.

  Rule kept here: writes only to an existing rollout that is not halted.

  Input:
    KEYS[1]  rollout hash (`rollout(appId, version)`)
    ARGV[1]  expected `phases` JSON (as read; '' = none)
    ARGV[2]  new `phases` JSON

  Output (a status string):
    'ok'       written
    'stale'    `phases` changed since the read: nothing written
    'halted'   the rollout is halted: nothing written
    'missing'  no rollout: nothing written
]]
local cur = redis.call('HMGET', KEYS[1], 'status', 'phases')
if not cur[1] then return 'missing' end
if cur[1] == 'halted' then return 'halted' end
if (cur[2] or '') ~= ARGV[1] then return 'stale' end
redis.call('HSET', KEYS[1], 'phases', ARGV[2])
return 'ok'
