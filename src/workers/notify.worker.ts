/**
 * BullMQ adapter of admin notifications (issue 4), queue `notify`, job `notify-admins`: at the
 * installations' next update check after a manual version is published, shows "update
 * available" and notifies their admins through the `Notifier` (DESIGN.md "Rollout rules":
 * manual approval). Deliver first, then mark: a failed delivery is retried by BullMQ
 * (attempts with exponential backoff) and nobody is marked notified without a delivery.
 */
import type { Job } from 'bullmq';
import { VersionLadder } from '../rollout/version-ladder.js';
import { NotifyBatchJob } from '../jobs/queues.js';
import { realDelay, toPlannedVersion, type RolloutContext } from './rollout-context.js';
import { delayJob, parseJobData, rolloutGone, translateError } from './rollout.worker.js';

export interface NotifyBatchResult {
  considered: number;
  notified: number;
  /** `halted`: the rollout was halted; `gone`: the version no longer exists (its app was removed). */
  skipped?: 'halted' | 'gone';
}

/**
 * Notifies one batch (a range of the plan's notify bucket, or the ids of late installations);
 * installations already on the version (or that approved it) are left out.
 */
export async function notifyBatch(ctx: RolloutContext, job: Job, token: string | undefined): Promise<NotifyBatchResult> {
  const data = parseJobData(NotifyBatchJob, job);
  const { appId, version } = data;
  const status = await ctx.rollouts.status(appId, version);
  if (status === 'halted') return { considered: 0, notified: 0, skipped: 'halted' };
  if (status === 'paused') return delayJob(job, token, ctx.settings.pauseRecheckMs);
  if (await rolloutGone(ctx, job, appId, version, status)) return { considered: 0, notified: 0, skipped: 'gone' };
  const now = ctx.clock.now();
  if (now < data.at) return delayJob(job, token, realDelay(ctx, data.at));
  const ids = data.ids ?? (await ctx.rollouts.bucketRange(appId, version, 'notify', data.at, data.start, data.end));
  const { versions, approved } = await ctx.installs.readStates(appId, ids);
  const ladder = new VersionLadder((await ctx.versions.listVersions(appId)).map(toPlannedVersion));
  const target = ladder.rank(version);
  const due = ids.filter((_, k) => versions[k] && ladder.rank(versions[k]) < target && ladder.rank(approved[k] ?? null) < target);
  if (due.length > 0) {
    const sites = await ctx.installs.readSites(appId, due);
    await ctx.notifier.notify({ appId, version, at: now, installations: due.map((id, k) => ({ id, site: sites[k] ?? null })) });
    await ctx.installs.markUpdateAvailable(appId, due, version, now);
  }
  return { considered: ids.length, notified: due.length };
}

/** The `notify` queue's processor. */
export function notifyProcessor(ctx: RolloutContext) {
  return async (job: Job, token?: string): Promise<unknown> => {
    try {
      return await notifyBatch(ctx, job, token);
    } catch (err) {
      throw translateError(err);
    }
  };
}
