--[[
  Claims one due approval reminder (ApprovalNoticeStore.claimReminder): a pending approval's
  notice is repeated every reminder interval until the installation is approved, upgraded, or a
  newer version's notice supersedes it (app/rollout/approval-notices.ts). The claim moves the
  reminder's score to the next one and appends the reminder time to the notice record, only if
  the score is still the one the caller read: two daemons' sweeps send each reminder once.

  Input:
    KEYS[1]  the version's notice hash (`approvalNotices`: id → `<notified at>[,<reminded at>…]`)
    KEYS[2]  the app's reminder set (`approvalReminders`: `<version>\t<id>` → next reminder time)
    ARGV[1]  member `<version>\t<id>`
    ARGV[2]  installation id
    ARGV[3]  the score the caller read (clock ms)
    ARGV[4]  reminder time (clock ms)
    ARGV[5]  the next reminder's score (clock ms)

  Output: 1 claimed; 0 not (the score moved: another sweep claimed it; or no notice: dropped).
]]
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[3]) then return 0 end
local rec = redis.call('HGET', KEYS[1], ARGV[2])
if not rec then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
redis.call('HSET', KEYS[1], ARGV[2], rec .. ',' .. ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
return 1
