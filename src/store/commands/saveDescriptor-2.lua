--[[
  Stores a canonical descriptor under its content hash (DescriptorStore.saveDescriptor).

  Rules: content-addressed and write-once (the same content is stored once per app and never
  rewritten); only for a registered app, so a poll or deploy in flight when the app is removed
  (app-remover.ts) stores nothing.

  Input:
    KEYS[1]  app hash (`app`)
    KEYS[2]  descriptor key (`descriptor(appId, hash)`)
    ARGV[1]  canonical descriptor text

  Output (an integer):
    1   stored
    0   stored already (same hash): nothing written
    -1  no app record: nothing written
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('SET', KEYS[2], ARGV[1], 'NX') then return 1 end
return 0
