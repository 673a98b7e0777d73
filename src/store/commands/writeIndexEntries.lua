--[[
  Writes entries of the bucketed indexes (keys.ts `installationIndexBucket`, `siteIndexBucket`)
  in one call: the entries a registration or an adoption planned (installation-index.ts decides
  the field, digest or fallback, from what readIndexEntries.lua returned and the apps' records).
  One call per hash-tag group of buckets on a cluster, one call for many groups on one server,
  instead of one HSET per bucket.

  Input (numkeys first):
    KEYS[1…]   buckets (HASH); on a cluster all in one hash slot (grouped by hash tag)
    ARGV[1]    a MessagePack array of triples: bucket (integer, 1-based index into KEYS),
               field, value
               (one packed argument: far cheaper to send and parse than three
               arguments per entry)

  Output: the number of entries written (integer; new or overwritten alike).
]]
local a = cmsgpack.unpack(ARGV[1])
local nk = #KEYS
-- Every bucket number names one of KEYS (else a caller's bug: refused before any write).
for i = 1, #a - 2, 3 do
  local b = a[i]
  if type(b) ~= 'number' or b < 1 or b > nk then return redis.error_reply('ERR bucket number out of KEYS') end
end
local call = redis.call
local n = 0
for i = 1, #a - 2, 3 do
  call('HSET', KEYS[a[i]], a[i + 1], a[i + 2])
  n = n + 1
end
return n
