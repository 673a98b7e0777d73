--[[
  Records an admin's approval of an installation (InstallationStore.setApproved), as a
  compare-and-set of its `approvedUpTo`, with one `approved` history entry per version approved.

  Rules (DESIGN.md "Rollout rules": manual approval; history kept): `approvedUpTo` moves only
  from the value the caller read (a concurrent approval wins, the caller reads again); only a
  registered installation (one with a record) is written, so one whose app was removed
  meanwhile is not re-created.

  An installation is one field of the data hash, `<version>\x1f<record JSON>\x1f<history>`
  (src/store/installation-record.ts): the entries are appended at its end. They are encoded by
  the caller (encodeHistoryEntry in src/rollout/installation-history.ts) and appended here as
  they are.

  Input:
    KEYS[1]  approved hash (`installationApproved`: id → highest version approved)
    KEYS[2]  data hash (`installationData`)
    ARGV[1]  installation id
    ARGV[2]  expected `approvedUpTo` ('' = none)
    ARGV[3]  new `approvedUpTo`
    ARGV[4]  the encoded history entries to append, `;`-separated ('' = none)

  Output (an integer): 1 recorded; 0 `approvedUpTo` differs from ARGV[2] or the installation is
  not registered (nothing written).
]]
local r = redis.call('HGET', KEYS[2], ARGV[1])
if not r then return 0 end
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if cur ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if ARGV[4] ~= '' then
  if string.sub(r, -1) ~= '\31' then r = r .. ';' end
  redis.call('HSET', KEYS[2], ARGV[1], r .. ARGV[4])
end
return 1
