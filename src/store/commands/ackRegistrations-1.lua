--[[
  Drops registration log entries the late planner has handled (InstallationStore.ackRegistrations).

  Rule: drops them only while the first entry is still the one the caller handled (entries are
  unique: their start positions are), so two late planners racing on the same entries drop them
  once.

  Input:
    KEYS[1]  registration log list (`installationLog`: `<start>|<end>|<at>` entries)
    ARGV[1]  the first entry the caller read
    ARGV[2]  how many entries to drop

  Output (an integer): 1 dropped, 0 the first entry differs (another planner dropped them).
]]
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[1] then return 0 end
redis.call('LTRIM', KEYS[1], tonumber(ARGV[2]), -1)
return 1
