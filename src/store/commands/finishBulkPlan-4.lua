--[[
  Marks a bulk upgrade's plan done (BulkUpgradeStore.finishPlan): its candidate list is
  complete and `total` final. When every candidate already has an outcome (none to move, or the
  batches ran ahead of this step), it is completed here and its keys expire after the
  retention, as in applyBulkMoves-6.lua.

  Input:
    KEYS[1]  bulk upgrade record   KEYS[2]  outcome hash   KEYS[3]  candidate list
    KEYS[4]  requested list
    ARGV[1]  time, epoch ms (clock)
    ARGV[2]  retention once finished, real ms (PEXPIRE)
    ARGV[3]  expiry time once finished, epoch ms (clock)

  Output: 'ok' (planned, batches to run), 'finished' (completed by this call) or 'stopped'
  (not running: nothing done).
]]
local rec = KEYS[1]
if redis.call('HGET', rec, 'status') ~= 'running' then return 'stopped' end
redis.call('HSET', rec, 'planned', '1')
local f = redis.call('HMGET', rec, 'total', 'completed', 'failed')
if tonumber(f[2] or '0') + tonumber(f[3] or '0') >= tonumber(f[1] or '0') then
  redis.call('HSET', rec, 'status', 'completed', 'completedAt', ARGV[1], 'expiresAt', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  redis.call('PEXPIRE', KEYS[3], ARGV[2])
  redis.call('PEXPIRE', KEYS[4], ARGV[2])
  return 'finished'
end
return 'ok'
