--[[
  Writes entries of the bucketed indexes (keys.ts `installationIndexBucket`, `siteIndexBucket`)
  in one call: the entries a registration or an adoption planned (installation-index.ts decides
  the field, digest or fallback, from what readIndexEntries.lua returned and the apps' records).
  One call per hash-tag group of buckets on a cluster, one call for many groups on one server,
  instead of one HSET per bucket.

  Input (numkeys first):
    KEYS[1…]   buckets (HASH); on a cluster all in one hash slot (grouped by hash tag)
    ARGV[1…]   triples: bucket (1-based index into KEYS), field, value

  Output: the number of entries written (integer; new or overwritten alike).
]]
-- Every bucket number names one of KEYS (else a caller's bug: refused before any write).
for i = 1, #ARGV - 2, 3 do
  local b = tonumber(ARGV[i])
  if not b or b < 1 or b > #KEYS then return redis.error_reply('ERR bucket number out of KEYS: ' .. ARGV[i]) end
end
local n = 0
for i = 1, #ARGV - 2, 3 do
  redis.call('HSET', KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2])
  n = n + 1
end
return n
