--[[
  Marks "update available" for a version on installations (InstallationStore.markUpdateAvailable),
  with an `update-available` history entry each.

  Rules (DESIGN.md "Rollout rules": under manual approval an installation shows "update
  available" at its next check and its admins are emailed): once per version and installation;
  only on registered installations (one with a record), so one whose app was removed is not
  re-created.

  An installation is one field of the data hash, `<version>\x1f<record JSON>\x1f<history>`
  (src/store/installation-record.ts): the entry is appended at its end. The history entry (the
  same for every installation of the call) is encoded by the caller (encodeHistoryEntry in
  src/rollout/installation-history.ts) and appended here as it is.

  Input:
    KEYS[1]  available hash (`installationAvailable`: id → newest version shown)
    KEYS[2]  data hash (`installationData`)
    ARGV[1]  the encoded history entry to append
    ARGV[2]  the version available
    ARGV[3…] installation ids

  Output: the number of installations newly marked (integer).
]]
local n = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('HGET', KEYS[1], id) ~= ARGV[2] then
    local r = redis.call('HGET', KEYS[2], id)
    if r then
      redis.call('HSET', KEYS[1], id, ARGV[2])
      if string.sub(r, -1) ~= '\31' then r = r .. ';' end
      redis.call('HSET', KEYS[2], id, r .. ARGV[1])
      n = n + 1
    end
  end
end
return n
