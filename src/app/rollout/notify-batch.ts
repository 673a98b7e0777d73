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

/** What a notify batch did. */
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
  if (due.length > 0) {
    const sites = await ctx.installs.readSites(appId, due);
    await ctx.notifier.notify({
      appId,
      version,
      at: now,
      installations: due.map((id, k) => {
        const link = ctx.approvalLinks?.issue({ installationId: id, appId, version }, now);
        return {
          id,
          site: sites[k] ?? null,
          approvalUrl: link?.url ?? null,
          approvalExpiresAt: link?.expiresAt ?? null,
        };
      }),
    });
    await ctx.installs.markUpdateAvailable(appId, due, version, now);
    ctx.events.emit('notify:sent', { appId, version, notified: due.length });
  }
  return { considered: ids.length, notified: due.length };
}
