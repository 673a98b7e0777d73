--[[
  Records an admin's approval of an installation (InstallationStore.setApproved), as a
  compare-and-set of its `approvedUpTo`, with one `approved` history entry per version approved.

  Rules (DESIGN.md "Rollout rules": manual approval; history kept): `approvedUpTo` moves only
  from the value the caller read (a concurrent approval wins, the caller reads again); only a
  registered installation (one in the version hash) is written, so one whose app was removed
  meanwhile is not re-created.

  The history entries are encoded by the caller (encodeHistoryEntry in
  src/rollout/installation-history.ts) and appended here as they are.

  Input:
    KEYS[1]  approved hash (`installationApproved`: id → highest version approved)
    KEYS[2]  history hash (`installationHistory`: id → `;`-separated entries)
    KEYS[3]  version hash (`installationVersion`)
    ARGV[1]  installation id
    ARGV[2]  expected `approvedUpTo` ('' = none)
    ARGV[3]  new `approvedUpTo`
    ARGV[4]  the encoded history entries to append, `;`-separated ('' = none)

  Output (an integer): 1 recorded; 0 `approvedUpTo` differs from ARGV[2] or the installation is
  not registered (nothing written).
]]
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 0 then return 0 end
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if cur ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if ARGV[4] ~= '' then
  local h = redis.call('HGET', KEYS[2], ARGV[1])
  if h then h = h .. ';' .. ARGV[4] else h = ARGV[4] end
  redis.call('HSET', KEYS[2], ARGV[1], h)
end
return 1
