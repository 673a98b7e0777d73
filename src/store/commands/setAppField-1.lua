--[[
  Writes (or, with an empty value, deletes) one setting of a registered app (AppStore:
  `setPhasedRelease`), only while the app is registered: a setting written as the app is
  removed must not leave a stray app hash behind.

  Input:
    KEYS[1]  app hash (`app(appId)`)
    ARGV[1]  field
    ARGV[2]  value ('' = delete the field)

  Output: 1 written, 0 the app is not registered (nothing written)
]]
if redis.call('HEXISTS', KEYS[1], 'id') == 0 then return 0 end
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
