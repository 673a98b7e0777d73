--[[
  Stores a rollout's plan summary and ends planning (RolloutStore.finishPlanning), as a
  compare-and-set of the status.

  Rules:
  - planning ends only when the plan's cursor has reached the end of the installation list: an
    installation registered after the plan's last read makes the plan read again (`behind`). So
    a plan covers exactly the positions below its final cursor, and every installation
    registered later is the late planner's (src/rollout/plan-late.ts);
  - the status after planning is pure TypeScript: completePlanning in
    src/rollout/rollout-status.ts (a pause or halt that came meanwhile wins). The store reads the
    status, computes the next one there and writes it here only if the status is still what it
    read; on `stale` it reads again and retries;
  - writes nothing once the rollout is deleted (its app removed).

  Input:
    KEYS[1]  rollout hash (`rollout(appId, version)`)
    KEYS[2]  installation id list of the app (`installationIds`)
    ARGV[1]  plan summary JSON
    ARGV[2]  number of batch jobs the plan enqueued
    ARGV[3]  end of planning, epoch ms (`plannedAt`)
    ARGV[4]  expected status (as read)
    ARGV[5]  expected resumeTo (as read; '' = none)
    ARGV[6]  new status
    ARGV[7]  new resumeTo ('' = none)

  Output (a status string):
    'ok'       written
    'behind'   installations were registered past the plan's cursor: nothing written
    'stale'    status or resumeTo changed since the read: nothing written
    'missing'  no rollout (no status field): nothing written
]]
local cur = redis.call('HMGET', KEYS[1], 'status', 'resumeTo', 'planCursor')
if not cur[1] then return 'missing' end
if redis.call('LLEN', KEYS[2]) > tonumber(cur[3] or '0') then return 'behind' end
if cur[1] ~= ARGV[4] or (cur[2] or '') ~= ARGV[5] then return 'stale' end
redis.call('HSET', KEYS[1], 'summary', ARGV[1], 'batches', ARGV[2], 'plannedAt', ARGV[3],
  'status', ARGV[6], 'resumeTo', ARGV[7])
return 'ok'
