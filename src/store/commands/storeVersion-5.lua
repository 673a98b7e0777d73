--[[
  Appends a version to an app's history (VersionStore.storeVersion): the version record, its
  place at the end of the history, its descriptor (write-once), its Forge deployment id, and the
  app record's `latestVersion` / `latestHash` / `versionedAt`, all in one atomic step.

  Rules (DESIGN.md "Versioning rules", "Detection rules"):
  - guarded by the latest version the caller classified against, so two daemons detecting the
    same change produce one version (`conflict` for the second);
  - a Forge deployment id yields at most one version (`exists`);
  - a polled change detected before the app's `versionedAt` (the detection time of the latest
    polled change already decided) is stale (`superseded`): appending it after the later one
    would make a descriptor the vendor no longer serves the latest version;
  - nothing is written for an app that is not registered (`gone`): a versioning step in flight
    when the app is removed (app-remover.ts) never gives it a version again.

  Input:
    KEYS[1]  versions hash (`versions`: version → VersionRecord JSON)
    KEYS[2]  version-order list (`versionOrder`: oldest first)
    KEYS[3]  deployments hash (`deployments`: deployment id → version, '-' = none)
    KEYS[4]  descriptor key of the new version's descriptor (`descriptor(appId, hash)`)
    KEYS[5]  app hash (`app`)
    ARGV[1]  expected latest version ('' = the app has none yet)
    ARGV[2]  the new version
    ARGV[3]  the VersionRecord JSON
    ARGV[4]  Forge deployment id ('' = none)
    ARGV[5]  canonical descriptor text ('' = do not store it)
    ARGV[6]  descriptor hash (`sha256:…`), kept as the app's `latestHash`
    ARGV[7]  detection time (epoch ms) of a polled change ('' = not polled)

  Output: a pair {status, value}:
    {'created', version}        written
    {'exists', version}         the deployment id has a version already: nothing written
    {'superseded', versionedAt} a later polled change was decided already: nothing written
    {'conflict', latest}        the latest version is not ARGV[1] (latest '' = none), or the
                                version exists already: nothing written
    {'gone', ''}                no app record: nothing written
]]
if redis.call('EXISTS', KEYS[5]) == 0 then return {'gone', ''} end
if ARGV[4] ~= '' then
  local existing = redis.call('HGET', KEYS[3], ARGV[4])
  if existing and existing ~= '-' then return {'exists', existing} end
end
if ARGV[7] ~= '' then
  local decided = redis.call('HGET', KEYS[5], 'versionedAt')
  if decided and tonumber(decided) > tonumber(ARGV[7]) then return {'superseded', decided} end
end
local latest = redis.call('LINDEX', KEYS[2], -1)
if not latest then latest = '' end
if latest ~= ARGV[1] or redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then return {'conflict', latest} end
if ARGV[5] ~= '' then redis.call('SET', KEYS[4], ARGV[5], 'NX') end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('RPUSH', KEYS[2], ARGV[2])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], ARGV[4], ARGV[2]) end
redis.call('HSET', KEYS[5], 'latestVersion', ARGV[2], 'latestHash', ARGV[6])
if ARGV[7] ~= '' then redis.call('HSET', KEYS[5], 'versionedAt', ARGV[7]) end
return {'created', ARGV[2]}
