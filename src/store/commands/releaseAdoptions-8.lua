--[[
  The Connect side of moves of installations to the Forge app adopting their Connect app
  (InstallationStore.adoptInstallations, step 1 of 3; DESIGN.md "Connect to Forge adoption"):
  each installation leaves the Connect app by a compare-and-set on the Connect version the caller
  judged, at most once per adopting Forge version, and is parked in the adoption's pending hash
  until the Forge side has received it (receiveAdoptions-6.lua).

  Every key is the Connect app's (one hash slot): the Forge side and the global index are written
  by their own steps, in the order the store documents, so that a crash between two steps leaves
  the move pending, and the next call for the same adoption (a redelivered batch, another batch,
  an approval again) delivers it.

  A release, in one atomic step: the installation's record (`<version>\x1f<record JSON>\x1f<history>`,
  src/store/installation-record.ts), approval and "update available" fields and its member of the
  set of installations with maintenance windows are deleted (its id
  stays in the Connect registration list, whose positions never change, and readers skip ids
  without a record), the distribution counts it out, its history gets a `moved` entry naming the
  Connect version it moved from and is kept in the Connect app's hash of installations that left
  it, its outcome is recorded (`m|<connect version>|<cause>`), and its pending entry holds what
  the Forge side needs.

  The history entry is built here, in the format of src/rollout/installation-history.ts
  (`<at>|m|<connect app>@<connect version>|<forge app>@<forge version>|<a or p>`);
  test/store/adoption-scripts.redis.test.ts proves it decodes there.

  Input:
    KEYS[1]  Connect data hash          KEYS[2]  Connect approved hash
    KEYS[3]  Connect available hash     KEYS[4]  Connect distribution hash
    KEYS[5]  Connect left hash (`installationsLeft`: id → history of an installation that left)
    KEYS[6]  outcome hash of the adoption (`adoptionReleased`: id → `m|<connect version>|<cause>`)
    KEYS[7]  pending hash of the adoption (`adoptionPending`: id → `<connect version>\t<cause>\t<data JSON>\t<history>`)
    KEYS[8]  Connect windowed set (`installationWindowed`: ids whose record has maintenance windows)
    ARGV[1]  time, epoch ms
    ARGV[2]  Connect app id    ARGV[3] Forge app id    ARGV[4] adopting Forge version
    ARGV[5]  the moves, one line each `<id>\t<expected Connect version>\t<cause code a or p>`

  Output: {moved, conflicts, done, pending}: released now; not released because the installation
  no longer runs the expected Connect version (or left the Connect app); released before (outcome
  recorded); and every pending entry (this call's and any an earlier call left undelivered) as a
  flat id, value list.
]]
local at, capp, fapp, fver = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local moved, conflicts, done = 0, 0, 0
local find, sub = string.find, string.sub
for id, expected, cause in string.gmatch(ARGV[5], '([^\t\n]+)\t([^\t\n]+)\t([^\t\n]+)') do
  local r, a, b
  if redis.call('HEXISTS', KEYS[6], id) == 1 then
    done = done + 1
  else
    r = redis.call('HGET', KEYS[1], id)
    a = r and find(r, '\31', 1, true)
    b = a and find(r, '\31', a + 1, true)
    if not b or sub(r, 1, a - 1) ~= expected then
      conflicts = conflicts + 1
    else
      local data, h = sub(r, a + 1, b - 1), sub(r, b + 1)
      local e = at .. '|m|' .. capp .. '@' .. expected .. '|' .. fapp .. '@' .. fver .. '|' .. cause
      if h ~= '' then e = h .. ';' .. e end
      redis.call('HDEL', KEYS[1], id)
      redis.call('HDEL', KEYS[2], id)
      redis.call('HDEL', KEYS[3], id)
      redis.call('SREM', KEYS[8], id)
      redis.call('HINCRBY', KEYS[4], expected, -1)
      redis.call('HSET', KEYS[5], id, e)
      redis.call('HSET', KEYS[6], id, 'm|' .. expected .. '|' .. cause)
      redis.call('HSET', KEYS[7], id, expected .. '\t' .. cause .. '\t' .. data .. '\t' .. e)
      moved = moved + 1
    end
  end
end
return {moved, conflicts, done, redis.call('HGETALL', KEYS[7])}
