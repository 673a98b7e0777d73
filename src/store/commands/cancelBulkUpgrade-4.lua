--[[
  Cancels a running bulk upgrade (BulkUpgradeStore.cancel): from this step on no batch moves
  anyone (applyBulkMoves-6.lua moves only while it is running); what was moved stays moved.
  Its keys expire after the retention, as a finished one's do.

  Input:
    KEYS[1]  bulk upgrade record   KEYS[2]  outcome hash   KEYS[3]  candidate list
    KEYS[4]  requested list
    ARGV[1]  time, epoch ms (clock)
    ARGV[2]  retention, real ms (PEXPIRE)
    ARGV[3]  expiry time, epoch ms (clock)

  Output: 'ok' cancelled, 'finished' (it is not running: completed or cancelled before), or
  'missing' (no such record: never existed, or expired).
]]
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 'missing' end
if st ~= 'running' then return 'finished' end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'completedAt', ARGV[1], 'expiresAt', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  redis.call('PEXPIRE', KEYS[3], ARGV[2])
  redis.call('PEXPIRE', KEYS[4], ARGV[2])
return 'ok'
