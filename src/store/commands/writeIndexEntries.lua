--[[
  Writes entries of the bucketed indexes (keys.ts `installationIndexBucket`, `siteIndexBucket`)
  in one call: the entries a registration or an adoption planned (installation-index.ts decides
  the field, digest or fallback, from what readIndexEntries.lua returned and the apps' records).
  One call per hash-tag group of buckets on a cluster, one call for many groups on one server,
  instead of one HSET per bucket. A fallback field (`.` + the full string) also adds its bucket's
  key to its group's fallback marks (keys.ts `indexFallbackMarks`), which claimIndexEntries.lua
  reads to know which buckets it must check for fallback fields.

  Input (numkeys first):
    KEYS[1…]   buckets (HASH) and fallback marks (SET); on a cluster all in one hash slot
               (grouped by hash tag)
    ARGV[1]    a MessagePack array of quadruples: bucket (integer, 1-based index into KEYS),
               the group's marks (index into KEYS; 0 for a digest field), field, value
               (one packed argument: far cheaper to send and parse than an argument per item)

  Output: the number of entries written (integer; new or overwritten alike).
]]
local a = cmsgpack.unpack(ARGV[1])
local nk = #KEYS
-- Every key number names one of KEYS (else a caller's bug: refused before any write).
for i = 1, #a - 3, 4 do
  local b, m = a[i], a[i + 1]
  if type(b) ~= 'number' or b < 1 or b > nk or type(m) ~= 'number' or m < 0 or m > nk then
    return redis.error_reply('ERR key number out of KEYS')
  end
end
local call = redis.call
local n = 0
for i = 1, #a - 3, 4 do
  call('HSET', KEYS[a[i]], a[i + 2], a[i + 3])
  if a[i + 1] > 0 then call('SADD', KEYS[a[i + 1]], KEYS[a[i]]) end
  n = n + 1
end
return n
