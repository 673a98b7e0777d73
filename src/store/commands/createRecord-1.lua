--[[
  Creates a record hash (an app, a rollout) if it does not exist, all its fields at once
  (AppStore.create, RolloutStore.create): the first caller wins, and no reader ever sees a record
  with only some of its fields (a crash between "claim" and "fill" cannot leave one). One key, so
  it is one hash slot; the record's entry in a global index (the apps SET, the rollouts ZSET) is
  written by its own command before this one (see the stores).

  Input:
    KEYS[1]  the record hash
    ARGV[1]  the field whose presence means the record exists (e.g. `id`)
    ARGV[2…] field, value pairs (ARGV[1] among them)

  Output: 1 created, 0 the record exists (nothing written).
]]
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
