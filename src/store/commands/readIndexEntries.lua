--[[
  Reads entries of the bucketed indexes (the global index and the by-site index, keys.ts
  `installationIndexBucket`, `siteIndexBucket`) in one call: an entry's digest field and its
  fallback field (installation-index.ts). A registration reads every entry of a batch this way
  before it decides where to write (one call per hash-tag group of buckets on a cluster, one
  call for many groups on one server), instead of one HMGET per bucket.

  Input (numkeys first):
    KEYS[1…]   buckets (HASH: digest or fallback field → app id or installation id); on a
               cluster all in one hash slot (the caller groups them by hash tag)
    ARGV[1]    a MessagePack array of triples: bucket (integer, 1-based index into KEYS),
               digest field, fallback field
               (one packed argument: far cheaper to send and parse than three
               arguments per entry)

  Output: a flat array of triples, only for the entries that have a value in either field, in
  input order: entry number (1-based triple number), digest field's value or nil, fallback
  field's value or nil. An empty array when no entry has a value (a first registration).
]]
local a = cmsgpack.unpack(ARGV[1])
local nk = #KEYS
-- Every bucket number names one of KEYS (else a caller's bug: refused before any write).
for i = 1, #a - 2, 3 do
  local b = a[i]
  if type(b) ~= 'number' or b < 1 or b > nk then return redis.error_reply('ERR bucket number out of KEYS') end
end
local call = redis.call
local out = {}
local n = 0
for i = 1, #a - 2, 3 do
  local r = call('HMGET', KEYS[a[i]], a[i + 1], a[i + 2])
  if r[1] or r[2] then
    out[n + 1] = (i + 2) / 3
    out[n + 2] = r[1]
    out[n + 3] = r[2]
    n = n + 3
  end
end
return out
