/**
 * "Update available" for a manual version (DESIGN.md "Rollout rules", manual approval): at the
 * installations' next update check after the version is published, their admins are notified
 * through the `Notifier` port and the installations show "update available". Deliver first, then
 * mark: a failed delivery is retried by the notify job and nobody is marked notified without one.
 */
import { VersionLadder } from '../../rollout/version-ladder.js';
import type { NotifyBatchJob } from '../../jobs/queues.js';
import type { RolloutContext } from '../context.js';
import { toPlannedVersion } from './ladder.js';
import { rolloutGone, type BatchWait } from './upgrade-batch.js';
import { sendNotices } from './approval-notices.js';

/** What a notify batch did. */
export interface NotifyBatchResult {
  considered: number;
  notified: number;
  /** `halted`: the rollout was halted; `gone`: the version no longer exists (its app was removed). */
  skipped?: 'halted' | 'gone';
}

/**
 * Notifies one batch (a range of the plan's notify bucket, or the ids of late installations):
 * one notice per admin of each installation (approval-notices.ts), recorded once, with its first
 * reminder scheduled; installations already on the version (or that approved it), and those
 * whose admins were notified of it already, are left out.
 */
export async function notifyBatch(ctx: RolloutContext, data: NotifyBatchJob): Promise<NotifyBatchResult | BatchWait> {
  const { appId, version } = data;
  const status = await ctx.rollouts.status(appId, version);
  if (status === 'halted') return { considered: 0, notified: 0, skipped: 'halted' };
  if (status === 'paused') return { kind: 'wait', reason: 'paused' };
  if (await rolloutGone(ctx, appId, version, status)) return { considered: 0, notified: 0, skipped: 'gone' };
  const now = ctx.clock.now();
  if (now < data.at) return { kind: 'wait', reason: 'not-due', until: data.at };
  const ids = data.ids ?? (await ctx.rollouts.bucketRange(appId, version, 'notify', data.at, data.start, data.end));
  const { versions, approved } = await ctx.installs.readStates(appId, ids);
  const ladder = new VersionLadder((await ctx.versions.listVersions(appId)).map(toPlannedVersion));
  const target = ladder.rank(version);
  const due = ids.filter(
    (_, k) => versions[k] && ladder.rank(versions[k]) < target && ladder.rank(approved[k] ?? null) < target,
  );
  // A batch run again (a retry, or the reconciliation sweep) sends no installation's notice twice.
  const sent = await ctx.notices.notified(appId, version, due);
  const fresh = due.filter((_, k) => !sent[k]);
  if (fresh.length > 0) {
    await sendNotices(ctx, appId, version, fresh, now, 'notice');
    await ctx.notices.recordNotices(appId, version, fresh, now, now + ctx.settings.approvalReminderIntervalMs);
    ctx.events.emit('notify:sent', { appId, version, notified: fresh.length });
  }
  if (due.length > 0) await ctx.installs.markUpdateAvailable(appId, due, version, now);
  return { considered: ids.length, notified: fresh.length };
}
