--[[
  Marks "update available" for a version on installations (InstallationStore.markUpdateAvailable),
  with an `update-available` history entry each.

  Rules (DESIGN.md "Rollout rules": under manual approval an installation shows "update
  available" at its next check and its admins are emailed): once per version and installation;
  only on registered installations (one in the version hash), so one whose app was removed is
  not re-created.

  The history entry (the same for every installation of the call) is encoded by the caller
  (encodeHistoryEntry in src/rollout/installation-history.ts) and appended here as it is.

  Input:
    KEYS[1]  available hash (`installationAvailable`: id → newest version shown)
    KEYS[2]  history hash (`installationHistory`: id → `;`-separated entries)
    KEYS[3]  version hash (`installationVersion`)
    ARGV[1]  the encoded history entry to append
    ARGV[2]  the version available
    ARGV[3…] installation ids

  Output: the number of installations newly marked (integer).
]]
local n = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('HGET', KEYS[1], id) ~= ARGV[2] and redis.call('HEXISTS', KEYS[3], id) == 1 then
    redis.call('HSET', KEYS[1], id, ARGV[2])
    local e = ARGV[1]
    local h = redis.call('HGET', KEYS[2], id)
    if h then e = h .. ';' .. e end
    redis.call('HSET', KEYS[2], id, e)
    n = n + 1
  end
end
return n
