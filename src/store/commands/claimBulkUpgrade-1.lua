--[[
  Claims a place among the running bulk upgrades (BulkUpgradeStore.claim), as a compare-and-set
  on the set of running ids: the caller read the running bulk upgrades, found that no limit
  refuses the new one (src/rollout/bulk-upgrade.ts `checkBulkLimits`, DESIGN.md "Distribution
  rules": one per app environment, one per developer account, a global limit), and adds it only
  if the running set is still the one it judged. Two daemons starting bulk upgrades at once
  cannot both pass a limit that admits one.

  Input:
    KEYS[1]  running hash (`bulkUpgradesRunning`: id → `<appId>\t<environment>\t<account>\t<claimedAt>`)
    ARGV[1]  the running ids the caller read, sorted, `\n`-joined ('' for none)
    ARGV[2]  the new bulk upgrade's id
    ARGV[3]  its value

  Output: 1 claimed, 0 the running set changed meanwhile (read again and judge again).
]]
local ids = redis.call('HKEYS', KEYS[1])
table.sort(ids)
if table.concat(ids, '\n') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 1
