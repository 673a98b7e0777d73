/**
 * "Update available" notices to installations' admins, with reminders (DESIGN.md "Rollout
 * rules", manual approval: each installation "shows 'update available' at its next 24-hour
 * check, and its admins are emailed"):
 * - one notice per admin of each installation (its `admins`; none listed: one notice for its
 *   site's admins), each with that installation's approval link;
 * - each installation's notice of a version is recorded once (app/rollout/notify-batch.ts skips
 *   the ones already sent, so a notify batch run again, or by the reconciliation sweep, sends
 *   nothing twice) and its first reminder scheduled `approvalReminderIntervalMs` later;
 * - reminders (`sendReminders`, run by the reconciliation sweep) repeat the notice every interval
 *   while the installation still runs an older version, has not approved it, and shows that
 *   version as its update (a newer version's notice supersedes it); otherwise they stop;
 * - `listApprovals` (`mpu approvals list APP@V`, `GET /v1/approvals/:appId/:version`) and
 *   `approvalCounts` (`mpu_approvals{state}`) read the records.
 */
import { AppError, ErrorCode } from '../../lib/errors.js';
import { VersionLadder } from '../../rollout/version-ladder.js';
import type { DueReminder } from '../../store/approval-notice-store.js';
import type { RolloutContext } from '../context.js';
import { toPlannedVersion } from './ladder.js';
import type { AdminNotice, UpdateAvailableNotice } from './notifier.js';

/** The state of one installation's approval of a version. */
export type ApprovalState =
  /** Notified, runs an older version, not approved, still shown this version. */
  | 'pending'
  /** Its admins approved this version or a newer one (the upgrade may still wait for a window). */
  | 'approved'
  /** It runs this version or a newer one. */
  | 'upgraded'
  /** A newer version's notice replaced this one (it now waits on that one). */
  | 'superseded'
  /** The installation is gone (its app removed, or it was never registered). */
  | 'gone';

/** Every state, in the order reports list them. */
export const APPROVAL_STATES: readonly ApprovalState[] = ['pending', 'approved', 'upgraded', 'superseded', 'gone'];

/**
 * Builds the per-admin notices of a batch and sends them (one `notify` call per batch; the
 * notice holds one entry per admin).
 * @throws what the notifier throws (AppError `notify-failed`, retryable or not)
 */
export async function sendNotices(
  ctx: Pick<RolloutContext, 'installs' | 'notifier' | 'approvalLinks'>,
  appId: string,
  version: string,
  ids: readonly string[],
  now: number,
  kind: 'notice' | 'reminder',
): Promise<number> {
  if (ids.length === 0) return 0;
  const recipients = await ctx.installs.readRecipients(appId, ids);
  const installations: UpdateAvailableNotice['installations'] = [];
  const notices: AdminNotice[] = [];
  ids.forEach((id, k) => {
    const link = ctx.approvalLinks?.issue({ installationId: id, appId, version }, now);
    const r = recipients[k];
    const base = {
      installationId: id,
      site: r?.site ?? null,
      approvalUrl: link?.url ?? null,
      approvalExpiresAt: link?.expiresAt ?? null,
    };
    installations.push({
      id,
      site: base.site,
      approvalUrl: base.approvalUrl,
      approvalExpiresAt: base.approvalExpiresAt,
    });
    if (r && r.admins.length > 0) for (const to of r.admins) notices.push({ to, ...base });
    else notices.push({ to: null, ...base });
  });
  await ctx.notifier.notify({ appId, version, kind, at: now, installations, notices });
  return notices.length;
}

/** The state of each of `ids` for `version` (see `ApprovalState`), from the store. */
async function statesOf(
  ctx: Pick<RolloutContext, 'installs'>,
  ladder: VersionLadder,
  appId: string,
  version: string,
  ids: readonly string[],
): Promise<ApprovalState[]> {
  const [{ versions, approved }, available] = await Promise.all([
    ctx.installs.readStates(appId, ids),
    ctx.installs.readAvailable(appId, ids),
  ]);
  const target = ladder.rank(version);
  return ids.map((_, k) => {
    const runs = versions[k];
    if (!runs) return 'gone';
    if (ladder.rank(runs) >= target) return 'upgraded';
    if (ladder.rank(approved[k] ?? null) >= target) return 'approved';
    const shown = available[k] ?? null;
    if (shown !== null && shown !== version) return 'superseded';
    return 'pending';
  });
}

/** What one reminder round did. */
export interface ReminderResult {
  /** Due reminders read. */
  due: number;
  /** Installations reminded (their admins got one reminder each). */
  reminded: number;
  /** Reminders stopped: approved, upgraded, superseded or gone. */
  stopped: number;
}

/**
 * Sends the app's due reminders at `clock.now()` (at most `max` per call): pending ones are
 * reminded (delivered first, then recorded, moving the next reminder one interval on); the
 * others stop. Run by the reconciliation sweep, one job at a time across daemons.
 * @throws what the notifier throws: the reminders stay due and the next sweep tries again
 */
export async function sendReminders(ctx: RolloutContext, appId: string, max = 5000): Promise<ReminderResult> {
  const now = ctx.clock.now();
  const due = await ctx.notices.dueReminders(appId, now, max);
  const res: ReminderResult = { due: due.length, reminded: 0, stopped: 0 };
  if (due.length === 0) return res;
  const ladder = new VersionLadder((await ctx.versions.listVersions(appId)).map(toPlannedVersion));
  const byVersion = new Map<string, DueReminder[]>();
  for (const r of due) byVersion.set(r.version, [...(byVersion.get(r.version) ?? []), r]);
  const next = now + ctx.settings.approvalReminderIntervalMs;
  for (const [version, rs] of byVersion) {
    const states = await statesOf(
      ctx,
      ladder,
      appId,
      version,
      rs.map((r) => r.id),
    );
    const stop = rs.filter((_, k) => states[k] !== 'pending');
    await ctx.notices.dropReminders(appId, stop);
    res.stopped += stop.length;
    const pending = rs.filter((_, k) => states[k] === 'pending');
    if (pending.length === 0) continue;
    await sendNotices(
      ctx,
      appId,
      version,
      pending.map((r) => r.id),
      now,
      'reminder',
    );
    for (const r of pending) if (await ctx.notices.claimReminder(appId, r, now, next)) res.reminded++;
  }
  if (res.reminded > 0)
    ctx.logger.info(
      { event: 'notify:reminders', appId, ...res },
      `approval reminders of ${appId}: ${res.reminded} installation(s) reminded, ${res.stopped} stopped`,
    );
  return res;
}

/** One row of `listApprovals`. Times clock ms. */
export interface ApprovalRow {
  installationId: string;
  site: string | null;
  /** Its admins' addresses; empty: its site's admins. */
  admins: string[];
  state: ApprovalState;
  notifiedAt: number;
  remindedAt: number[];
}

/** `listApprovals`' answer: counts over every installation notified, and the first `limit` rows. */
export interface ApprovalList {
  appId: string;
  version: string;
  counts: Record<ApprovalState, number>;
  rows: ApprovalRow[];
}

/**
 * The approvals of a manual version: every installation whose admins were notified of it, with
 * its state, when it was notified and reminded (HSCAN of the version's notices, states read per
 * page: O(installations notified)).
 * @param limit rows returned (counts cover all). @defaultValue 100
 * @throws AppError version-not-found (no such version), input-invalid (an automatic version:
 *   it needs no approval)
 */
export async function listApprovals(
  ctx: Pick<RolloutContext, 'installs' | 'notices' | 'versions'>,
  appId: string,
  version: string,
  limit = 100,
): Promise<ApprovalList> {
  const rec = await ctx.versions.getVersion(appId, version);
  if (!rec) throw new AppError(ErrorCode.VERSION_NOT_FOUND, `app ${appId} has no version ${version}`);
  if (rec.approval !== 'manual')
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `${appId}@${version} is an automatic version: it needs no approval (see 'mpu rollouts show ${appId}@${version}')`,
    );
  const ladder = new VersionLadder((await ctx.versions.listVersions(appId)).map(toPlannedVersion));
  const counts = Object.fromEntries(APPROVAL_STATES.map((s) => [s, 0])) as Record<ApprovalState, number>;
  const rows: ApprovalRow[] = [];
  for await (const page of ctx.notices.scan(appId, version)) {
    const ids = page.map((p) => p.id);
    const states = await statesOf(ctx, ladder, appId, version, ids);
    states.forEach((s) => counts[s]++);
    if (rows.length >= limit) continue;
    const take = page.slice(0, limit - rows.length);
    const recipients = await ctx.installs.readRecipients(
      appId,
      take.map((p) => p.id),
    );
    take.forEach((p, k) =>
      rows.push({
        installationId: p.id,
        site: recipients[k]?.site ?? null,
        admins: recipients[k]?.admins ?? [],
        state: states[k]!,
        notifiedAt: p.notifiedAt,
        remindedAt: [...p.remindedAt],
      }),
    );
  }
  rows.sort((a, b) => a.notifiedAt - b.notifiedAt || a.installationId.localeCompare(b.installationId));
  return { appId, version, counts, rows };
}

/** Counts of `listApprovals` only (for metrics). */
export async function approvalCounts(
  ctx: Pick<RolloutContext, 'installs' | 'notices' | 'versions'>,
  appId: string,
  version: string,
): Promise<Record<ApprovalState, number>> {
  return (await listApprovals(ctx, appId, version, 0)).counts;
}
