--[[
  Records that a polled change needed no version (VersionStore.markDecided): the app's
  `versionedAt` rises to the change's detection time, so an older polled change retried later is
  refused by storeVersion-5.lua (`superseded`).

  Rules: only while the version the change was compared with is still the latest (else the
  caller classifies again); `versionedAt` never falls; never creates the app record.

  Input:
    KEYS[1]  app hash (`app`)
    KEYS[2]  version-order list (`versionOrder`)
    ARGV[1]  detection time of the polled change, epoch ms
    ARGV[2]  the latest version it was compared with

  Output (a status string):
    'ok'        recorded (or `versionedAt` was later already)
    'conflict'  ARGV[2] is no longer the latest version: nothing written
    'gone'      no app record: nothing written
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
if redis.call('LINDEX', KEYS[2], -1) ~= ARGV[2] then return 'conflict' end
local decided = redis.call('HGET', KEYS[1], 'versionedAt')
if not decided or tonumber(decided) < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'versionedAt', ARGV[1]) end
return 'ok'
