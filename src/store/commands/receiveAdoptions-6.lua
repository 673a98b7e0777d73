--[[
  The Forge side of moves of installations to the Forge app adopting their Connect app
  (InstallationStore.adoptInstallations, step 2 of 3, after releaseAdoptions-8.lua): each
  released installation joins the Forge app at the adopting version, at most once per adoption
  (its outcome is recorded here too), so delivering the same pending entries twice (a retry after
  a crash, two batches of the adoption at once) changes nothing more.

  Every key is the Forge app's (one hash slot). A receipt, in one atomic step: the installation
  is appended to the Forge registration list (logged for the late planner, as a registration
  is), gets its record (`<version>\x1f<record JSON>\x1f<history>`, src/store/installation-record.ts)
  with the adopting version, the distribution counts it, its history is the one the Connect
  side built (the Connect history, then the `moved` entry), and it joins the Forge app's set of
  installations with maintenance windows when its record JSON has windows (it contains neither
  `,"m":null,` nor ends with `,"m":null}`: src/store/installation-record.ts, "Windows").

  Input:
    KEYS[1]  Forge id list              KEYS[2]  Forge data hash
    KEYS[3]  Forge distribution hash    KEYS[4]  Forge registration log list
    KEYS[5]  outcome hash of the adoption (`adoptionOutcomes`: id → `m|<connect version>|<cause>`)
    KEYS[6]  Forge windowed set (`installationWindowed`: ids whose record has maintenance windows)
    ARGV[1]  time, epoch ms
    ARGV[2]  adopting Forge version
    ARGV[3]  the receipts, one line each `<id>\t<connect version>\t<cause>\t<data JSON>\t<history>`
             (releaseAdoptions-8.lua's pending entries)

  Output: the number of installations received now (integer).
]]
local at, fver = ARGV[1], ARGV[2]
local first = redis.call('LLEN', KEYS[1])
local received = 0
for id, expected, cause, data, history in string.gmatch(ARGV[3], '([^\t\n]+)\t([^\t\n]+)\t([^\t\n]+)\t([^\t\n]*)\t([^\t\n]*)') do
  if redis.call('HSETNX', KEYS[5], id, 'm|' .. expected .. '|' .. cause) == 1 then
    redis.call('RPUSH', KEYS[1], id)
    redis.call('HSET', KEYS[2], id, fver .. '\31' .. data .. '\31' .. history)
    if not (string.find(data, ',"m":null,', 1, true) or string.sub(data, -10) == ',"m":null}') then
      redis.call('SADD', KEYS[6], id)
    end
    received = received + 1
  end
end
if received > 0 then
  redis.call('HINCRBY', KEYS[3], fver, received)
  redis.call('RPUSH', KEYS[4], first .. '|' .. (first + received - 1) .. '|' .. at)
end
return received
