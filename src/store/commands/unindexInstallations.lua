--[[
  Deletes entries of the bucketed indexes (the global index or the by-site index, keys.ts
  `installationIndexBucket`, `siteIndexBucket`) when they still hold the expected value:
  AppRemover.remove (`mpu apps remove`) for a removed app's installations, and an adoption for
  the by-site entries of the app its installations left. One call per hash-tag group of buckets
  on a cluster, one call for many groups on one server.

  Rule: an entry is deleted only if it still names what the caller expects (the app, or the
  installation), so an entry another app or installation took meanwhile is never touched.

  Input (numkeys first):
    KEYS[1…]   buckets (HASH: digest or fallback field → app id or installation id); on a
               cluster all in one hash slot (grouped by hash tag)
    ARGV[1]    a MessagePack array of triples: bucket (integer, 1-based index into KEYS),
               field, expected value
               (one packed argument: far cheaper to send and parse than three
               arguments per entry)

  Output: the number of entries deleted (integer).
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
  local key = KEYS[a[i]]
  if call('HGET', key, a[i + 1]) == a[i + 2] then n = n + call('HDEL', key, a[i + 1]) end
end
return n
