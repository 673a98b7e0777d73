--[[
  The bulk upgrade's compare-and-set (BulkUpgradeStore.applyMoves): the same move as
  compareAndSetVersions-3.lua (an installation moves only from the version the caller read; the
  distribution and its history follow), plus, per installation, the bulk upgrade's outcome
  recorded once: an installation with an outcome is never moved or counted again, so a
  redelivered, resumed or concurrent batch changes nothing. Nothing moves unless the bulk
  upgrade is running: once `cancel` has run, no batch moves anyone.

  An installation is one field of the data hash, `<version>\x1f<record JSON>\x1f<history>`
  (src/store/installation-record.ts): a move rewrites it with the target version first and the
  entry appended at the end. The history entry is built here: `<at>|u|<from>|<to>|b|<bulk id>`, the format of
  encodeHistoryEntry in src/rollout/installation-history.ts (test/app/bulk-upgrades.redis.test.ts
  decodes what this writes). When the bulk upgrade is planned and every candidate has an
  outcome, it is completed here, and its keys expire after the retention.

  Input:
    KEYS[1]  data hash (`installationData`)  KEYS[2]  distribution hash
    KEYS[3]  outcome hash          KEYS[4]  bulk upgrade record   KEYS[5]  candidate list
    KEYS[6]  requested list (an explicit list of installations; may not exist)
    ARGV[1]  time, epoch ms (clock)
    ARGV[2]  bulk upgrade id
    ARGV[3]  target version
    ARGV[4]  retention once finished, real ms (PEXPIRE)
    ARGV[5]  expiry time once finished, epoch ms (clock; stored as `expiresAt`)
    ARGV[6]  one line per installation: `<id>\t<expected version>` to move, `<id>\t!<reason>`
             to record as skipped

  Output: {state, moved, skipped, conflicts}: state 'ok', 'finished' (completed by this call)
  or 'stopped' (not running: nothing done); conflicts: installations whose version was not the
  expected one (read again).
]]
local rec = KEYS[4]
if redis.call('HGET', rec, 'status') ~= 'running' then return {'stopped', 0, 0, 0} end
local at, bulk, target = ARGV[1], ARGV[2], ARGV[3]
local moved, skipped, conflicts = 0, 0, 0
local dist = {}
for id, what in string.gmatch(ARGV[6], '([^\t\n]+)\t([^\t\n]+)') do
  if string.byte(what, 1) == 33 then -- '!': record a skip, once
    local reason = string.sub(what, 2)
    if redis.call('HSETNX', KEYS[3], id, reason) == 1 then
      redis.call('HINCRBY', rec, 'skip:' .. reason, 1)
      skipped = skipped + 1
    end
  else
    local r = redis.call('HGET', KEYS[1], id)
    local a = r and string.find(r, '\31', 1, true)
    if a and string.sub(r, 1, a - 1) == what then
      -- The outcome first: one with an outcome already is never moved or counted again.
      if redis.call('HSETNX', KEYS[3], id, 'moved') == 1 then
        dist[what] = (dist[what] or 0) - 1
        dist[target] = (dist[target] or 0) + 1
        local e = at .. '|u|' .. what .. '|' .. target .. '|b|' .. bulk
        if string.sub(r, -1) ~= '\31' then e = ';' .. e end
        redis.call('HSET', KEYS[1], id, target .. string.sub(r, a) .. e)
        moved = moved + 1
      end
    elseif redis.call('HEXISTS', KEYS[3], id) == 0 then
      conflicts = conflicts + 1
    end
  end
end
for v, n in pairs(dist) do
  if n ~= 0 then redis.call('HINCRBY', KEYS[2], v, n) end
end
if moved > 0 then redis.call('HINCRBY', rec, 'completed', moved) end
if skipped > 0 then redis.call('HINCRBY', rec, 'failed', skipped) end
local f = redis.call('HMGET', rec, 'planned', 'total', 'completed', 'failed')
if f[1] == '1' and tonumber(f[3] or '0') + tonumber(f[4] or '0') >= tonumber(f[2] or '0') then
  redis.call('HSET', rec, 'status', 'completed', 'completedAt', at, 'expiresAt', ARGV[5])
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
  redis.call('PEXPIRE', KEYS[4], ARGV[4])
  redis.call('PEXPIRE', KEYS[5], ARGV[4])
  redis.call('PEXPIRE', KEYS[6], ARGV[4])
  return {'finished', moved, skipped, conflicts}
end
return {'ok', moved, skipped, conflicts}
