/**
 * BullMQ adapter of the rollout (issue 4), queue `rollout`:
 * - `plan-rollout` (enqueued by the versioning worker): streams the app's installations through
 *   the pure planner, writes the plan's time buckets to Redis lists, then enqueues one delayed
 *   job per bucket range (`upgrade-batch`, or `notify-admins` on the notify queue for manual
 *   versions): never one job per installation.
 * - `upgrade-batch`: when due, recomputes each installation's target from the store and
 *   `clock.now()` (`decideTarget`) and applies it with the store's atomic compare-and-set.
 * - `plan-late-installations`: plans installations registered after a plan read the
 *   installation list (late-installations.ts, rollout/plan-late.ts).
 * Every job is idempotent: redelivery, early or late wake-ups change nothing.
 */
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import semver from 'semver';
import { AppError, ErrorCode } from '../lib/errors.js';
import { PlanContext, PlanSummaryBuilder, planChunk, type PlanSummary } from '../rollout/plan-rollout.js';
import { decideTarget } from '../rollout/version-ladder.js';
import type { VersionMove } from '../store/installation-store.js';
import {
  LATE_PLAN_JOB_NAME,
  LatePlanJob,
  NOTIFY_BATCH_JOB_NAME,
  NotifyBatchJob,
  PLAN_ROLLOUT_JOB_NAME,
  PlanRolloutJob,
  UPGRADE_BATCH_JOB_NAME,
  UPGRADE_JOB_OPTS,
  UpgradeBatchJob,
  notifyBatchJobId,
  upgradeBatchJobId,
} from '../jobs/queues.js';
import { loadLadder, notifyJobOptions, realDelay, toPlannedVersion, type RolloutContext } from './rollout-context.js';
import { planLateInstallations, scheduleLatePlanning } from '../app/rollout/late-installations.js';

/** Parses job data at the start of a processor; bad data ends retries. */
export function parseJobData<T>(schema: { safeParse(d: unknown): { success: true; data: T } | { success: false; error: { message: string } } }, job: Job): T {
  const r = schema.safeParse(job.data);
  if (!r.success) throw new UnrecoverableError(`${ErrorCode.PAYLOAD_INVALID}: job ${job.id} (${job.name}): ${r.error.message}`);
  return r.data;
}

/** Translates an AppError once at the worker boundary (STYLE.md): non-retryable ends retries. */
export function translateError(err: unknown): unknown {
  if (err instanceof AppError && !err.retryable) return new UnrecoverableError(`${err.code}: ${err.message}`);
  return err;
}

/** Options of every upgrade batch job (defined with the payloads in queues.ts; re-exported). */
export { UPGRADE_JOB_OPTS };

/** Result of a plan job (also its BullMQ return value). */
export interface PlanResult {
  appId: string;
  version: string;
  /** The rollout's status; `gone` when the version or its rollout no longer exists (the app was removed): nothing planned. */
  status: string;
  summary: PlanSummary | null;
  batches: number;
  alreadyPlanned?: boolean;
}

/** A plan that stops because its app was removed (`mpu apps remove`): logged, not retried. */
function planGone(ctx: RolloutContext, appId: string, version: string, batches: number, why: string): PlanResult {
  ctx.logger.warn({ event: 'rollout:plan:gone', appId, version, batches }, `not planning ${appId}@${version}: ${why} (app removed?)`);
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
export async function planVersionRollout(ctx: RolloutContext, data: PlanRolloutJob, onProgress?: (percent: number) => Promise<void>): Promise<PlanResult> {
  const { appId, version } = data;
  const record = await ctx.versions.getVersion(appId, version);
  if (!record) return planGone(ctx, appId, version, 0, 'the version is not stored');
  const planned = toPlannedVersion(record);
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
  });
  // The app may have been removed between the read of its version and the rollout's creation:
  // its removal may then have missed the new rollout, so take it back.
  if (created && !(await ctx.versions.getVersion(appId, version))) {
    await ctx.rollouts.discard(appId, version);
    return planGone(ctx, appId, version, 0, 'the version was deleted as its rollout was created');
  }
  if (!rollout) return planGone(ctx, appId, version, 0, 'the rollout was deleted as it was created');
  if (rollout.plannedAt !== null || rollout.status === 'halted') {
    return { appId, version, status: rollout.status, summary: rollout.summary, batches: rollout.batches, alreadyPlanned: true };
  }
  ctx.logger.info({ event: 'rollout:plan', appId, version }, `planning rollout of ${appId}@${version}`);
  await ctx.rollouts.markSuperseded(appId, version);
  const all = (await ctx.versions.listVersions(appId)).map(toPlannedVersion);
  const plan = new PlanContext(planned, all, ctx.policy);
  const summary = new PlanSummaryBuilder(planned.publishedAt);
  const total = await ctx.installs.count(appId);
  const chunk = ctx.settings.planChunkSize;
  const bs = ctx.settings.batchSize;
  // Jobs are enqueued while planning goes on, as soon as a bucket has a full batch past what was
  // already enqueued (RPUSH only appends, so a range once written never changes): upgrades due
  // now start while the rest of a million installations is still being planned.
  const open = new Map<string, { kind: 'upgrade' | 'notify'; at: number; length: number; flushed: number }>();
  let batches = 0;
  const flush = async (final: boolean) => {
    const upgradeJobs: { name: string; data: UpgradeBatchJob; opts: Record<string, unknown> }[] = [];
    const notifyJobs: { name: string; data: NotifyBatchJob; opts: Record<string, unknown> }[] = [];
    for (const b of open.values()) {
      while (b.length - b.flushed >= bs || (final && b.length > b.flushed)) {
        const start = b.flushed;
        const end = Math.min(b.length, start + bs) - 1;
        b.flushed = end + 1;
        if (b.kind === 'upgrade') {
          const data: UpgradeBatchJob = { v: 1, appId, version, dueAt: b.at, source: { kind: 'bucket', at: b.at, start, end } };
          upgradeJobs.push({ name: UPGRADE_BATCH_JOB_NAME, data, opts: { jobId: upgradeBatchJobId(data), delay: realDelay(ctx, b.at), ...UPGRADE_JOB_OPTS } });
        } else {
          const data: NotifyBatchJob = { v: 1, appId, version, at: b.at, start, end };
          notifyJobs.push({ name: NOTIFY_BATCH_JOB_NAME, data, opts: { jobId: notifyBatchJobId(data), delay: realDelay(ctx, b.at), ...notifyJobOptions(ctx.settings) } });
        }
      }
    }
    for (let i = 0; i < upgradeJobs.length; i += 500) await ctx.queues.rollout.addBulk(upgradeJobs.slice(i, i + 500));
    for (let i = 0; i < notifyJobs.length; i += 500) await ctx.queues.notify.addBulk(notifyJobs.slice(i, i + 500));
    batches += upgradeJobs.length + notifyJobs.length;
  };
  // An interrupted plan resumes at its cursor (buckets and cursor move together, atomically).
  // Its summary is recomputed over the part already planned, and the full ranges already cut
  // are enqueued again (same job ids: no-ops), so nothing is lost and nothing is rebuilt under
  // batches that may already be running.
  const resumeAt = await ctx.rollouts.planCursor(appId, version);
  if (resumeAt > 0) {
    for (let start = 0; start < resumeAt; start += chunk) planChunk(plan, await ctx.installs.readPlanChunk(appId, start, Math.min(chunk, resumeAt - start)), summary);
    for (const b of await ctx.rollouts.listBuckets(appId, version)) open.set(`${b.kind}:${b.at}`, { kind: b.kind, at: b.at, length: b.size, flushed: 0 });
    await flush(false);
    ctx.logger.info({ event: 'rollout:plan:resumed', appId, version, resumeAt }, `resuming the plan of ${appId}@${version} at installation ${resumeAt}`);
  }
  // Read the next chunk while this one is planned and written. The cursor advances by the
  // positions read, and planning ends only when it has reached the end of the installation list
  // (atomically, in finishPlanning): an installation registered while the plan runs is read by
  // it; one registered after is the late planner's (late-installations.ts). Never both, never neither.
  const read = (from: number) => {
    const p = ctx.installs.readChunk(appId, from, chunk);
    p.catch(() => {}); // a failure surfaces at its await, never as an unhandled rejection
    return p;
  };
  let next = read(resumeAt);
  let status: string;
  for (let start = resumeAt; ; ) {
    const got = await next;
    if (got.read === 0) {
      await flush(true);
      const st = await ctx.rollouts.finishPlanning(appId, version, summary.summary(), batches, record.approval === 'manual' ? 'awaiting-approval' : 'scheduled', ctx.clock.now());
      if (st === null) return planGone(ctx, appId, version, batches, 'the rollout was deleted while planning');
      if (st !== 'behind') {
        status = st;
        break;
      }
      next = read(start); // registered since the last read: plan them too
      continue;
    }
    next = read(start + got.read);
    const buckets = planChunk(plan, got.inputs, summary);
    if (!(await ctx.rollouts.pushBuckets(appId, version, buckets, start + got.read, start))) return planGone(ctx, appId, version, batches, 'the rollout was deleted while planning');
    start += got.read;
    for (const b of buckets) {
      const key = `${b.kind}:${b.at}`;
      const o = open.get(key) ?? { kind: b.kind, at: b.at, length: 0, flushed: 0 };
      o.length += b.ids.length;
      open.set(key, o);
    }
    await flush(false);
    await onProgress?.(total === 0 ? 100 : Math.min(99, Math.floor((start / total) * 100)));
  }
  const s = summary.summary();
  // A registration whose own late-planning job was never enqueued (its process died right after
  // registering) is logged all the same: this picks it up.
  await scheduleLatePlanning(ctx, [appId]);
  await onProgress?.(100);
  ctx.logger.info({ event: 'rollout:planned', appId, version, status, batches, ...s }, `planned ${appId}@${version}: ${s.upgrades} upgrades, ${s.notifies} notices in ${batches} batches`);
  return { appId, version, status, summary: s, batches };
}

/**
 * Puts the running job back to the delayed set until `realMs` from now and tells the worker so
 * (BullMQ's documented pattern: `moveToDelayed` then throw `DelayedError`).
 */
export async function delayJob(job: Job, token: string | undefined, realMs: number): Promise<never> {
  await job.moveToDelayed(Date.now() + Math.max(1, realMs), token);
  throw new DelayedError();
}

/** Result of an upgrade batch. */
export interface UpgradeBatchResult {
  considered: number;
  moved: number;
  /** `halted`: the rollout was halted; `gone`: the version no longer exists (its app was removed). */
  skipped?: 'halted' | 'gone';
  progressPercent: number;
}

/**
 * True when a batch's rollout and version are both gone: the app was removed (`mpu apps
 * remove`). Logged once per batch; the batch then ends doing nothing (its installations are gone
 * too, and the store writes nothing for them anyway).
 */
export async function rolloutGone(ctx: RolloutContext, job: Job, appId: string, version: string, status: string | null): Promise<boolean> {
  if (status !== null || (await ctx.versions.getVersion(appId, version))) return false;
  ctx.logger.info({ event: 'rollout:batch:gone', appId, version, job: job.id }, `batch ${job.id} of ${appId}@${version} skipped: the version no longer exists (app removed?)`);
  return true;
}

/**
 * Applies one batch at `clock.now()`: each installation goes to the newest version it may have
 * (`decideTarget`), through the compare-and-set; a paused rollout's batch waits, a halted one's
 * does nothing, an early one goes back to sleep until due. A batch of late installations
 * (source `late`, rollout/plan-late.ts) stands in for the older versions they missed too: when
 * its version is halted it still applies (`loadLadder` leaves the halted version out), and when
 * it is paused it applies what it can and waits for the resume while any of them is below it.
 */
export async function applyUpgradeBatch(ctx: RolloutContext, job: Job, token: string | undefined): Promise<UpgradeBatchResult> {
  const data = parseJobData(UpgradeBatchJob, job);
  const { appId, version } = data;
  const late = data.source.kind === 'late';
  const status = await ctx.rollouts.status(appId, version);
  if (status === 'halted' && !late) return { considered: 0, moved: 0, skipped: 'halted', progressPercent: await progress(ctx, appId, version) };
  if (status === 'paused' && !late) return delayJob(job, token, ctx.settings.pauseRecheckMs);
  if (await rolloutGone(ctx, job, appId, version, status)) return { considered: 0, moved: 0, skipped: 'gone', progressPercent: 0 };
  const now = ctx.clock.now();
  if (now < data.dueAt) return delayJob(job, token, realDelay(ctx, data.dueAt));
  const { ids, versions: current, approved } =
    data.source.kind !== 'bucket'
      ? { ids: data.source.ids, ...(await ctx.installs.readStates(appId, data.source.ids)) }
      : await ctx.installs.readRangeStates(appId, ctx.keys.rolloutBucket(appId, version, 'upgrade', data.source.at), data.source.start, data.source.end);
  const ladder = await loadLadder(ctx, appId);
  const moves: VersionMove[] = [];
  for (let k = 0; k < ids.length; k++) {
    const cur = current[k];
    if (!cur) continue;
    const d = decideTarget(ladder, cur, approved[k] ?? null, now);
    if (d.target !== null) moves.push({ id: ids[k]!, expected: cur, target: d.target, cause: d.approvedBetween.length > 0 ? 'approval' : 'automatic' });
  }
  const moved = await ctx.installs.compareAndSetVersions(appId, moves, now);
  if (moved > 0) {
    const approvals = moves.filter((m) => m.cause === 'approval').length;
    ctx.metrics.upgrades.inc({ app: appId, cause: approvals ? 'approval' : 'automatic' }, moved);
  }
  const r = await ctx.rollouts.get(appId, version);
  const view = r ? await ctx.rollouts.view(r) : null;
  const progressPercent = view?.progressPercent ?? 0;
  // Once every installation runs this version or newer, no batch of it has anything left to do:
  // its bucket lists (a million ids weigh ~40 MB) expire after a day instead of staying forever.
  if (view?.complete && view.plannedAt !== null) await ctx.rollouts.expireBuckets(appId, version, 86_400);
  await job.updateProgress(progressPercent);
  ctx.logger.debug({ event: 'rollout:batch:applied', appId, version, considered: ids.length, moved, progressPercent }, 'upgrade batch applied');
  if (late && status === 'paused') {
    const after = new Map(moves.map((m) => [m.id, m.target]));
    const waiting = ids.some((id, k) => {
      const v = after.get(id) ?? current[k];
      return v !== null && v !== undefined && semver.valid(v) !== null && semver.lt(v, version);
    });
    if (waiting) return delayJob(job, token, ctx.settings.pauseRecheckMs);
  }
  return { considered: ids.length, moved, progressPercent };
}

async function progress(ctx: RolloutContext, appId: string, version: string): Promise<number> {
  const r = await ctx.rollouts.get(appId, version);
  if (!r) return 0;
  return (await ctx.rollouts.view(r)).progressPercent;
}

/** The `rollout` queue's processor: dispatches by job name. */
export function rolloutProcessor(ctx: RolloutContext) {
  return async (job: Job, token?: string): Promise<unknown> => {
    try {
      if (job.name === UPGRADE_BATCH_JOB_NAME) return await applyUpgradeBatch(ctx, job, token);
      if (job.name === PLAN_ROLLOUT_JOB_NAME) {
        const data = parseJobData(PlanRolloutJob, job);
        return await planVersionRollout(ctx, data, (p) => job.updateProgress(p));
      }
      if (job.name === LATE_PLAN_JOB_NAME) return await planLateInstallations(ctx, parseJobData(LatePlanJob, job));
      throw new UnrecoverableError(`${ErrorCode.PAYLOAD_INVALID}: unknown job name '${job.name}' on queue ${job.queueName}`);
    } catch (err) {
      throw translateError(err);
    }
  };
}
