--[[
  One page of the migration that builds an app's set of installations with maintenance windows
  (src/store/migrations/windowed.ts): for each id given, the set gets the id when the app's
  record of it has windows, and loses it when the record has none or is gone. The record is read
  here, in the same atomic step as the set's write, so a registration or adoption running beside
  the migration (which keeps the set itself) is never undone by a page read before it.
  Idempotent: a page run twice writes the same.

  A record has no windows when its JSON (between the record's two separators,
  src/store/installation-record.ts) contains `,"m":null,` or ends with `,"m":null}`; any other
  record has windows (installation-record.ts, "Windows", says why that is exact). A value without
  the two separators (a store not yet in one record per installation) counts as no record.

  Input:
    KEYS[1]  data hash (`installationData`: id → `<version>\x1f<JSON>\x1f<history>`)
    KEYS[2]  windowed set (`installationWindowed`: ids whose record has maintenance windows)
    ARGV[1…] installation ids (those of a page of the data hash, or members of the set)

  Output: {added, removed}: ids added to the set now, ids removed from it now.
]]
local find, sub = string.find, string.sub
local added, removed = 0, 0
for i = 1, #ARGV do
  local id = ARGV[i]
  local r = redis.call('HGET', KEYS[1], id)
  local a = r and find(r, '\31', 1, true)
  local b = a and find(r, '\31', a + 1, true)
  local json = b and sub(r, a + 1, b - 1)
  if json and not (find(json, ',"m":null,', 1, true) or sub(json, -10) == ',"m":null}') then
    added = added + redis.call('SADD', KEYS[2], id)
  else
    removed = removed + redis.call('SREM', KEYS[2], id)
  end
end
return {added, removed}
