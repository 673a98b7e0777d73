--[[
  Appends a chunk of planned buckets to a rollout's plan and moves its plan cursor
  (RolloutStore.pushBuckets), atomically: a planner that dies mid-chunk leaves either all of
  the chunk or none of it.

  Rules: writes nothing once the rollout is deleted (its app removed); with an expected cursor,
  writes nothing when the stored cursor differs, so a second planner of the same version (a
  stalled job taken over while the first still runs) cannot append the same installations twice.

  The number of keys varies (one list per bucket): the caller passes numkeys.

  Input:
    KEYS[1]   buckets hash (`rolloutBuckets`: `<kind>:<at>` → id count)
    KEYS[2]   rollout hash (`rollout(appId, version)`)
    KEYS[3…]  one list per bucket (`rolloutBucket(appId, version, kind, at)`)
    ARGV[1]   the new cursor (installations planned so far)
    ARGV[2]   the expected cursor ('' = any)
    ARGV[2j+1], ARGV[2j+2]  for the bucket list KEYS[j+2] (j = 1, 2, …): its field `<kind>:<at>`
              in the buckets hash, and its installation ids joined by newlines (ids hold no
              whitespace)

  Output (an integer):
    1   appended, cursor moved
    0   no rollout: nothing written
    -1  the stored cursor is not the expected one: nothing written
]]
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
if ARGV[2] ~= '' and (redis.call('HGET', KEYS[2], 'planCursor') or '0') ~= ARGV[2] then return -1 end
for i = 3, #KEYS do
  local n = 0
  local ids = {}
  for id in string.gmatch(ARGV[(i - 3) * 2 + 4], '[^\n]+') do
    ids[#ids + 1] = id
    if #ids == 1000 then
      redis.call('RPUSH', KEYS[i], unpack(ids))
      n = n + #ids
      ids = {}
    end
  end
  if #ids > 0 then
    redis.call('RPUSH', KEYS[i], unpack(ids))
    n = n + #ids
  end
  redis.call('HINCRBY', KEYS[1], ARGV[(i - 3) * 2 + 3], n)
end
redis.call('HSET', KEYS[2], 'planCursor', ARGV[1])
return 1
