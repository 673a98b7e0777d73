--[[
  Records the outcome of a batch of polls (AppStore.recordPollSuccess / recordPollFailure /
  recordForgeDeployment): fields written, fields deleted, the failure counters, and the poll
  claim handed on.

  Rules: never resurrects a removed app (writes only to an existing record, see app-remover.ts);
  moves the claim only while the caller still holds it (the slot and owner it claimed), so a
  slow poll cannot take back a claim handed to a retry.

  The number of keys varies: the caller passes numkeys (the batch's size).

  Input:
    KEYS[i]  app hash of the i-th app (`<p>:app:{<appId>}`)
    ARGV[i]  the arguments for KEYS[i], joined by NUL into one argument per app (ioredis copies
             and encodes every argument: docs/performance.md). The parts, in order:
               1  claimed slot ('' = no claim)
               2  claim owner
               3  owner after this poll ('' = the poll is done)
               4  fields to delete, comma-separated ('' = none)
               5  '1' to count a failure (consecutiveFailures and totalFailures + 1)
               6… field/value pairs to set (at least one pair)
             No value holds NUL (AppStore replaces it with U+FFFD).

  Output: one integer per key, in key order: 1 recorded, 0 gone (no app record: nothing written).
]]
local function split(s)
  local t, p = {}, 1
  while true do
    local q = string.find(s, '\0', p, true)
    if not q then
      t[#t + 1] = string.sub(s, p)
      return t
    end
    t[#t + 1] = string.sub(s, p, q - 1)
    p = q + 1
  end
end
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 0 then
    out[i] = 0
  else
    local a = split(ARGV[i])
    redis.call('HSET', key, unpack(a, 6, #a))
    if a[4] ~= '' then
      for f in string.gmatch(a[4], '[^,]+') do redis.call('HDEL', key, f) end
    end
    if a[5] == '1' then
      redis.call('HINCRBY', key, 'consecutiveFailures', 1)
      redis.call('HINCRBY', key, 'totalFailures', 1)
    end
    if a[1] ~= '' then
      local cur = redis.call('HMGET', key, 'pollSlot', 'pollClaim')
      if cur[1] == a[1] and cur[2] == a[2] then redis.call('HSET', key, 'pollClaim', a[3]) end
    end
    out[i] = 1
  end
end
return out
