--[[
  A registration's fast path for the bucketed indexes (installation-index.ts): writes each entry
  at its digest field when no entry of the call has anything yet, in one pass. The common case
  (new installations) then costs one HSETNX per entry instead of a read step (readIndexEntries.lua)
  and a write step (writeIndexEntries.lua). When any entry's digest field is taken, or its fallback
  field exists, the call writes nothing (what it set is deleted again before it returns: atomic,
  so no other client saw it) and the caller plans those entries the slow way (read, check the
  apps' records, write), which is where conflicts are refused and fallback fields chosen.

  Fallback fields: only a bucket listed in its group's fallback marks (keys.ts
  `indexFallbackMarks`, written with every fallback field by writeIndexEntries.lua) can hold one;
  the marks are read once per group, so a group without marks (nearly all) costs no check.

  Input (numkeys first):
    KEYS[1…]   buckets (HASH) and fallback marks (SET); on a cluster all in one hash slot
               (grouped by hash tag)
    ARGV[1]    a MessagePack array of quintuples: bucket (integer, 1-based index into KEYS),
               the group's marks (index into KEYS), digest field, fallback field, value
               (the caller never puts two entries with one bucket and digest field in a call)

  Output: 1 every entry was written at its digest field; 0 nothing was written.
]]
local a = cmsgpack.unpack(ARGV[1])
local nk = #KEYS
-- Every key number names one of KEYS (else a caller's bug: refused before any write).
for i = 1, #a - 4, 5 do
  local b, m = a[i], a[i + 1]
  if type(b) ~= 'number' or b < 1 or b > nk or type(m) ~= 'number' or m < 1 or m > nk then
    return redis.error_reply('ERR key number out of KEYS')
  end
end
local call = redis.call
local marks = {} -- marks key number → set of bucket keys with fallback fields (false: none)
local done = 0
local ok = true
for i = 1, #a - 4, 5 do
  local key = KEYS[a[i]]
  local m = marks[a[i + 1]]
  if m == nil then
    local members = call('SMEMBERS', KEYS[a[i + 1]])
    m = false
    if #members > 0 then
      m = {}
      for _, k in ipairs(members) do m[k] = true end
    end
    marks[a[i + 1]] = m
  end
  if m and m[key] and call('HEXISTS', key, a[i + 3]) == 1 then
    ok = false
    break
  end
  if call('HSETNX', key, a[i + 2], a[i + 4]) == 0 then
    ok = false
    break
  end
  done = i
end
if ok then return 1 end
for i = 1, done, 5 do
  call('HDEL', KEYS[a[i]], a[i + 2])
end
return 0
