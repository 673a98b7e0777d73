/**
 * Planning the rollout of one version (DESIGN.md "Rollout rules"): streams the app's
 * installations through the pure planner (src/rollout/plan-rollout.ts), writes the plan's time
 * buckets to the store, and hands one upgrade or notify batch per bucket range to the job ports
 * (never one job per installation). A Forge app's first version whose manifest names a
 * registered Connect app also starts that app's adoption (adoption.ts). Idempotent: a planned rollout is not planned again, an
 * interrupted one resumes at its cursor, and batch job ids are deterministic.
 */
import {
  PlanContext,
  PlanSummaryBuilder,
  planChunk,
  type PlanBucket,
  type PlanSummary,
} from '../../rollout/plan-rollout.js';
import type { NotifyBatchJob, PlanRolloutJob, UpgradeBatchJob } from '../../jobs/queues.js';
import type { RolloutContext } from '../context.js';
import type { BucketKind } from '../../store/rollout-store.js';
import { toPlannedVersion } from './ladder.js';
import { scheduleLatePlanning } from './late-installations.js';
import { startAdoption } from './adoption.js';
import { firstPhasePlanned, phasedReleaseFor } from './phased-release.js';
import { startPhases } from '../../rollout/phased-release.js';

/** Result of a plan (also the plan job's BullMQ return value, shown on dashboards). */
export interface PlanResult {
  appId: string;
  version: string;
  /** The rollout's status; `gone` when the version or its rollout no longer exists (the app was removed): nothing planned. */
  status: string;
  summary: PlanSummary | null;
  batches: number;
  alreadyPlanned?: boolean;
  /** The adoption batches enqueued, when the version adopts a Connect app (adoption.ts). */
  adoptionBatches?: number;
}

/**
 * Starts the Connect to Forge adoption a Forge version may start (its plan and batch jobs are
 * deterministic, so a plan run again enqueues nothing new). @returns its batch count, if any
 */
async function adoptionOf(ctx: RolloutContext, kind: string, appId: string, version: string) {
  if (kind !== 'forge') return {};
  const started = await startAdoption(ctx, appId, version);
  return started ? { adoptionBatches: started.batches } : {};
}

/** A plan that stops because its app was removed (`mpu apps remove`): logged, not retried. */
function planGone(ctx: RolloutContext, appId: string, version: string, batches: number, why: string): PlanResult {
  ctx.logger.warn(
    { event: 'rollout:plan:gone', appId, version, batches },
    `not planning ${appId}@${version}: ${why} (app removed?)`,
  );
  return { appId, version, status: 'gone', summary: null, batches };
}

/**
 * Plans the rollout of one version: idempotent (a planned rollout is not planned again; an
 * interrupted one resumes at its cursor; batch job ids are deterministic, so re-enqueueing a
 * range is a no-op).
 *
 * An unknown version, or an app removed while this runs (`mpu apps remove`), ends the plan with
 * status `gone` and a `rollout:plan:gone` warning, without re-creating the rollout: the store's
 * writes check that the rollout still exists, and a rollout created just as its version
 * disappeared is discarded again. Batches already enqueued then find nothing to do.
 */
export async function planVersionRollout(
  ctx: RolloutContext,
  data: PlanRolloutJob,
  onProgress?: (percent: number) => Promise<void>,
): Promise<PlanResult> {
  const { appId, version } = data;
  const record = await ctx.versions.getVersion(appId, version);
  if (!record) return planGone(ctx, appId, version, 0, 'the version is not stored');
  const planned = toPlannedVersion(record);
  const schedule = await phasedReleaseFor(ctx, appId, record);
  const { record: rollout, created } = await ctx.rollouts.create({
    appId,
    version,
    kind: record.kind,
    approval: record.approval,
    bump: record.bump,
    publishedAt: record.detectedAt,
    status: 'planning',
    resumeTo: null,
    createdAt: ctx.clock.now(),
    plannedAt: null,
    summary: null,
    batches: 0,
    supersededBy: null,
    ...(schedule ? { phases: startPhases(schedule, record.detectedAt) } : {}),
  });
  // The app may have been removed between the read of its version and the rollout's creation:
  // its removal may then have missed the new rollout, so take it back.
  if (created && !(await ctx.versions.getVersion(appId, version))) {
    await ctx.rollouts.discard(appId, version);
    return planGone(ctx, appId, version, 0, 'the version was deleted as its rollout was created');
  }
  if (!rollout) return planGone(ctx, appId, version, 0, 'the rollout was deleted as it was created');
  if (rollout.plannedAt !== null || rollout.status === 'halted') {
    // A plan interrupted after its end, before its phased release's next step was enqueued.
    if (rollout.phases && rollout.status !== 'halted') await firstPhasePlanned(ctx, appId, version, null);
    return {
      appId,
      version,
      status: rollout.status,
      summary: rollout.summary,
      batches: rollout.batches,
      alreadyPlanned: true,
      // A plan interrupted after its rollout's plan, before its adoption's: enqueued now.
      ...(rollout.status === 'halted' ? {} : await adoptionOf(ctx, record.kind, appId, version)),
    };
  }
  ctx.logger.info({ event: 'rollout:plan', appId, version }, `planning rollout of ${appId}@${version}`);
  await ctx.rollouts.markSuperseded(appId, version);
  const all = (await ctx.versions.listVersions(appId)).map(toPlannedVersion);
  // A phased release plans its first phase's cohort here; later phases plan theirs (phased-release.ts).
  const slice = rollout.phases ? { appId, from: 0, to: rollout.phases.schedule.percents[0]! } : undefined;
  const plan = new PlanContext(planned, all, ctx.rolloutPolicy, slice);
  const summary = new PlanSummaryBuilder(planned.publishedAt);
  const total = await ctx.installs.count(appId);
  const chunk = ctx.settings.planChunkSize;
  const bs = ctx.settings.batchSize;
  // Jobs are enqueued while planning goes on, as soon as a bucket has a full batch past what was
  // already enqueued (RPUSH only appends, so a range once written never changes): upgrades due
  // now start while the rest of a million installations is still being planned.
  const open = new Map<string, { kind: BucketKind; at: number; length: number; flushed: number }>();
  let batches = 0;
  const flush = async (final: boolean) => {
    const upgrades: UpgradeBatchJob[] = [];
    const notifies: NotifyBatchJob[] = [];
    for (const b of open.values()) {
      while (b.length - b.flushed >= bs || (final && b.length > b.flushed)) {
        const start = b.flushed;
        const end = Math.min(b.length, start + bs) - 1;
        b.flushed = end + 1;
        if (b.kind === 'notify') notifies.push({ v: 1, appId, version, at: b.at, start, end });
        else
          upgrades.push({
            v: 1,
            appId,
            version,
            dueAt: b.at,
            source: { kind: b.kind === 'upgrade' ? 'bucket' : 'installations', at: b.at, start, end },
          });
      }
    }
    await ctx.enqueueUpgradeBatches(upgrades);
    await ctx.enqueueNotifyBatches(notifies);
    batches += upgrades.length + notifies.length;
  };
  // An interrupted plan resumes at its cursor (buckets and cursor move together, atomically).
  // Its summary is recomputed over the part already planned, and the full ranges already cut
  // are enqueued again (same job ids: no-ops), so nothing is lost and nothing is rebuilt under
  // batches that may already be running.
  const resumeAt = await ctx.rollouts.planCursor(appId, version);
  if (resumeAt > 0) {
    for (let start = 0; start < resumeAt; start += chunk)
      planChunk(plan, await ctx.installs.readPlanChunk(appId, start, Math.min(chunk, resumeAt - start)), summary);
    for (const b of await ctx.rollouts.listBuckets(appId, version))
      open.set(`${b.kind}:${b.at}`, { kind: b.kind, at: b.at, length: b.size, flushed: 0 });
    await flush(false);
    ctx.logger.info(
      { event: 'rollout:plan:resumed', appId, version, resumeAt },
      `resuming the plan of ${appId}@${version} at installation ${resumeAt}`,
    );
  }
  // A plan in which every installation gets the same step at the same time needs nothing of an
  // installation but its version: when the app has no installation with maintenance windows and
  // none whose approval could change its step (checked by the store in the same atomic step:
  // with approvals, none on an approval-sensitive version), the plan is
  // the installation list itself (one bucket of kind `installations`, no id read or copied) and
  // its summary comes from the version distribution read in that step. Installations registered
  // meanwhile are past its cursor: the loop below plans them the usual way.
  let from = resumeAt;
  const sharedAt = plan.sharedUpgradeAt();
  const listed =
    resumeAt === 0 && sharedAt !== null
      ? await ctx.rollouts.planInstallationList(appId, version, sharedAt, 0, plan.approvalSensitiveVersions())
      : null;
  if (listed === 'gone') return planGone(ctx, appId, version, batches, 'the rollout was deleted while planning');
  if (sharedAt !== null && listed !== null && listed !== 'per-installation') {
    for (const [v, n] of listed.distribution) summary.add(plan.versionStep(v), n);
    if (listed.size > 0) {
      open.set(`installations:${sharedAt}`, { kind: 'installations', at: sharedAt, length: listed.size, flushed: 0 });
      await flush(false);
    }
    from = listed.size;
    ctx.logger.info(
      { event: 'rollout:plan:list', appId, version, installations: listed.size },
      `planning ${appId}@${version} as its whole installation list (${listed.size} positions, one bucket)`,
    );
  }
  // Read the next chunk while this one is planned, and write a chunk's buckets (then enqueue its
  // full batches) while the next one is planned: the loop waits on Redis only for the previous
  // chunk's write, so its round trips (queued behind the batches' compare-and-set scripts, which
  // run while the plan goes on) overlap the planning instead of adding to it. Writes stay in
  // order: each starts after the previous one ended, from the cursor it left. The cursor advances
  // by the positions read, and planning ends only when it has reached the end of the installation
  // list (atomically, in finishPlanning): an installation registered while the plan runs is read
  // by it; one registered after is the late planner's (late-installations.ts). Never both, never neither.
  const read = (from: number) => {
    const p = ctx.installs.readChunk(appId, from, chunk);
    p.catch(() => {}); // a failure surfaces at its await, never as an unhandled rejection
    return p;
  };
  /**
   * Records one chunk's maintenance deferrals, then appends its buckets and enqueues its full
   * batches. @returns false when the rollout is gone
   */
  const write = async (
    buckets: PlanBucket[],
    deferrals: ReadonlyMap<string, string>,
    cursor: number,
    from: number,
  ): Promise<boolean> => {
    // Before the buckets (and cursor) move: a plan resumed after a crash writes them again, the same.
    await ctx.installs.recordDeferrals(appId, version, deferrals);
    if (!(await ctx.rollouts.pushBuckets(appId, version, buckets, cursor, from))) return false;
    for (const b of buckets) {
      const key = `${b.kind}:${b.at}`;
      const o = open.get(key) ?? { kind: b.kind, at: b.at, length: 0, flushed: 0 };
      o.length += b.ids.length;
      open.set(key, o);
    }
    await flush(false);
    return true;
  };
  let writing: Promise<boolean> = Promise.resolve(true);
  let next = read(from);
  let status: string;
  let percent = -1;
  for (let start = from; ;) {
    const got = await next;
    if (got.read === 0) {
      if (!(await writing)) return planGone(ctx, appId, version, batches, 'the rollout was deleted while planning');
      await flush(true);
      const st = await ctx.rollouts.finishPlanning(
        appId,
        version,
        summary.summary(),
        batches,
        record.approval === 'manual' ? 'awaiting-approval' : 'scheduled',
        ctx.clock.now(),
      );
      if (st === null) return planGone(ctx, appId, version, batches, 'the rollout was deleted while planning');
      if (st !== 'behind') {
        status = st;
        break;
      }
      next = read(start); // registered since the last read: plan them too
      continue;
    }
    next = read(start + got.read);
    const deferrals = new Map<string, string>();
    const buckets = planChunk(plan, got.inputs, summary, deferrals);
    if (!(await writing)) return planGone(ctx, appId, version, batches, 'the rollout was deleted while planning');
    writing = write(buckets, deferrals, start + got.read, start);
    writing.catch(() => {}); // surfaces at its await
    start += got.read;
    // Progress moves by whole percents: one job update per percent, not one per chunk.
    const p = total === 0 ? 100 : Math.min(99, Math.floor((start / total) * 100));
    if (p !== percent) {
      percent = p;
      await onProgress?.(p);
    }
  }
  const s = summary.summary();
  if (rollout.phases && status !== 'halted') await firstPhasePlanned(ctx, appId, version, plan.cohortMembers);
  // A registration whose own late-planning job was never enqueued (its process died right after
  // registering) is logged all the same: this picks it up.
  await scheduleLatePlanning(ctx, [appId]);
  const adoption = await adoptionOf(ctx, record.kind, appId, version);
  await onProgress?.(100);
  ctx.events.emit('rollout:planned', { appId, version, status, batches });
  ctx.logger.info(
    { event: 'rollout:planned', appId, version, status, batches, ...s },
    `planned ${appId}@${version}: ${s.upgrades} upgrades, ${s.notifies} notices in ${batches} batches`,
  );
  return { appId, version, status, summary: s, batches, ...adoption };
}
