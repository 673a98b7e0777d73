--[[
  Claims the scheduled poll of each app of a batch for one poll job, and reads what the poll
  needs of each app (AppStore.claimPolls).

  Rule (DESIGN.md "Detection rules": many daemons must not poll twice): one poll per app per
  slot. The first job to claim an app's slot polls it; the same job may claim it again (a
  redelivered batch, a retry); any other job is told `taken`, and so is a job whose slot is older
  than the one claimed already. A batch of apps goes in one script to pay the per-command client
  cost once per batch (docs/performance.md); on a Redis Cluster the caller
  sends one app per script (a script's keys must share a slot).

  The number of keys varies: the caller passes numkeys (the batch's size).

  Input:
    KEYS[i]      app hash of the i-th app (`<p>:app:{<appId>}`)
    ARGV[1]      owner: the claiming poll job's id
    ARGV[i + 1]  the slot (integer) claimed for KEYS[i]

  Output: one bulk string per key, in key order (one string each: the client decodes one value
  per app, not ten):
    'G'                  gone: no app record
    'T' .. owner         taken: another owner holds this slot, or a later slot was claimed;
                         owner is the current `pollClaim` ('' = that poll is done)
    'C' .. fields        claimed: the fields id, kind, descriptorUrl, etag, lastModified,
                         lastSeenHash, latestVersion, latestHash, product (AppStore POLL_TARGET_FIELDS),
                         joined by NUL, each '' when absent, else '=' .. value
]]
local out = {}
local owner = ARGV[1]
for i, key in ipairs(KEYS) do
  local slotArg = ARGV[i + 1]
  local cur = redis.call('HMGET', key, 'pollSlot', 'pollClaim',
    'id', 'kind', 'descriptorUrl', 'etag', 'lastModified', 'lastSeenHash', 'latestVersion', 'latestHash',
    'product')
  if not cur[3] then
    out[i] = 'G'
  else
    local held = tonumber(cur[1])
    local slot = tonumber(slotArg)
    if held and (held > slot or (held == slot and cur[2] ~= owner)) then
      out[i] = 'T' .. (cur[2] or '')
    else
      redis.call('HSET', key, 'pollSlot', slotArg, 'pollClaim', owner)
      local f = {}
      for j = 3, 11 do
        if cur[j] then f[j - 2] = '=' .. cur[j] else f[j - 2] = '' end
      end
      out[i] = 'C' .. table.concat(f, '\0')
    end
  end
end
return out
