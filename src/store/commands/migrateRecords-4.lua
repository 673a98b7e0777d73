--[[
  One chunk of the migration of an app's installations to one record per installation
  (src/store/migrations/records.ts): the layout before it kept an installation in three hashes,
  `inst:data` (record JSON), `inst:version` and `inst:history`; now its `inst:data` field holds
  `<version>\x1f<record JSON>\x1f<history>` (src/store/installation-record.ts). Atomic per call,
  so a record is never half-written, and idempotent: a record already merged (one holding the
  separator) is left as it is, and the old fields are deleted as they are merged, so a migration
  stopped anywhere resumes where it was.

  Mode `records` (ARGV[1]), for ids of the data hash: each record is merged with its version and
  history; a record without a version (which no reader of the old layout showed) is dropped.
  Mode `left`, for ids of the old history hash that have no record (installations that left the
  app by an adoption, whose history the app keeps): each history moves to the `inst:left` hash.

  Input:
    KEYS[1]  data hash (`installationData`)
    KEYS[2]  the old version hash (`<p>:app:{<appId>}:inst:version`)
    KEYS[3]  the old history hash (`<p>:app:{<appId>}:inst:history`)
    KEYS[4]  left hash (`installationsLeft`)
    ARGV[1]  `records` or `left`
    ARGV[2…] installation ids

  Output: {merged, dropped, skipped}: records merged (or histories moved), records dropped, and
  ids already migrated or gone.
]]
local merged, dropped, skipped = 0, 0, 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local r = redis.call('HGET', KEYS[1], id)
  if ARGV[1] == 'left' then
    local h = redis.call('HGET', KEYS[3], id)
    if h and not r then
      redis.call('HSETNX', KEYS[4], id, h)
      merged = merged + 1
    else
      skipped = skipped + 1
    end
    if h and not r then redis.call('HDEL', KEYS[3], id) end
  elseif not r or string.find(r, '\31', 1, true) then
    skipped = skipped + 1
  else
    local v = redis.call('HGET', KEYS[2], id)
    if v then
      local h = redis.call('HGET', KEYS[3], id) or ''
      redis.call('HSET', KEYS[1], id, v .. '\31' .. r .. '\31' .. h)
      merged = merged + 1
    else
      redis.call('HDEL', KEYS[1], id)
      dropped = dropped + 1
    end
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
  end
end
return {merged, dropped, skipped}
