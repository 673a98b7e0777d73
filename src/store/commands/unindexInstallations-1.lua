--[[
  Deletes entries of the global installation index for a removed app (AppRemover.remove,
  `mpu apps remove`), a page of installation ids at a time.

  Rule: only the entries that still belong to that app are deleted; an id is never indexed to
  two apps (InstallationStore.register refuses it), so another app's entry is never touched.

  Input:
    KEYS[1]  installation index hash (`installationIndex`: installation id → app id)
    ARGV[1]  app id
    ARGV[2…] installation ids

  Output: the number of index entries deleted (integer).
]]
local n = 0
for i = 2, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then n = n + redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return n
