/**
 * BullMQ adapters of the rollout (DESIGN.md "Rollout rules"), thin over the use cases in
 * src/app/rollout/:
 * - queue `rollout`: `plan-rollout` (planVersionRollout), `upgrade-batch` (applyUpgradeBatch),
 *   `plan-late-installations` (planLateInstallations), `plan-bulk-upgrade` (planBulkUpgrade) and
 *   `bulk-upgrade-batch` (applyBulkBatch), `adoption-batch` (applyAdoptionBatch: a Connect to Forge
 *   adoption's batch, enqueued by the plan of the adopting Forge version), `reconcile-rollouts`
 *   (reconcile: the repeatable reconciliation sweep, scheduled by `scheduleReconcile`);
 *   adoption's batch, enqueued by the plan of the adopting Forge version), `phase-step`
 *   (runPhaseStep: the next phase of a phased release) and `pause-cap` (runPauseCap: a phased
 *   release's pause ends at its cap);
 * - queue `notify`: `notify-admins` (notifyBatch).
 * A batch that is not due, or whose rollout is paused, goes back to the delayed set.
 */
import type { Job } from 'bullmq';
import type { AppContext } from '../app/context.js';
import type { WorkerContext } from './worker-context.js';
import { planLateInstallations } from '../app/rollout/late-installations.js';
import { notifyBatch } from '../app/rollout/notify-batch.js';
import { planVersionRollout } from '../app/rollout/plan-version-rollout.js';
import { applyUpgradeBatch } from '../app/rollout/upgrade-batch.js';
import { applyBulkBatch, planBulkUpgrade } from '../app/rollout/bulk-upgrades.js';
import { applyAdoptionBatch } from '../app/rollout/adoption.js';
import { reconcile } from '../app/rollout/reconcile.js';
import { runPauseCap, runPhaseStep } from '../app/rollout/phased-release.js';
import {
  ADOPTION_BATCH_JOB_NAME,
  AdoptionBatchJob,
  BULK_BATCH_JOB_NAME,
  BULK_PLAN_JOB_NAME,
  BulkBatchJob,
  BulkPlanJob,
  LATE_PLAN_JOB_NAME,
  LatePlanJob,
  NotifyBatchJob,
  PAUSE_CAP_JOB_NAME,
  PHASE_STEP_JOB_NAME,
  PauseCapJob,
  PhaseStepJob,
  PLAN_ROLLOUT_JOB_NAME,
  PlanRolloutJob,
  RECONCILE_JOB_NAME,
  RECONCILE_SCHEDULER_ID,
  ReconcileJob,
  UPGRADE_BATCH_JOB_NAME,
  UpgradeBatchJob,
} from '../jobs/queues.js';
import { isWait, parseJobData, sleepJob, toWorkerError, unknownJob } from './boundary.js';

/** The `rollout` queue's processor: dispatches by job name. */
export function rolloutProcessor(ctx: AppContext) {
  return async (job: Job, token?: string): Promise<unknown> => {
    try {
      switch (job.name) {
        case UPGRADE_BATCH_JOB_NAME: {
          const r = await applyUpgradeBatch(ctx, parseJobData(UpgradeBatchJob, job));
          if (isWait(r)) return await sleepJob(job, token, r, ctx.clock, ctx.settings);
          if (!r.skipped) await job.updateProgress(r.progressPercent);
          return r;
        }
        case PLAN_ROLLOUT_JOB_NAME:
          return await planVersionRollout(ctx, parseJobData(PlanRolloutJob, job), (p) => job.updateProgress(p));
        case BULK_PLAN_JOB_NAME:
          return await planBulkUpgrade(ctx, parseJobData(BulkPlanJob, job));
        case BULK_BATCH_JOB_NAME: {
          const r = await applyBulkBatch(ctx, parseJobData(BulkBatchJob, job));
          if (isWait(r)) return await sleepJob(job, token, r, ctx.clock, ctx.settings);
          return r;
        }
        case ADOPTION_BATCH_JOB_NAME: {
          const r = await applyAdoptionBatch(ctx, parseJobData(AdoptionBatchJob, job));
          if (isWait(r)) return await sleepJob(job, token, r, ctx.clock, ctx.settings);
          return r;
        }
        case PHASE_STEP_JOB_NAME: {
          const r = await runPhaseStep(ctx, parseJobData(PhaseStepJob, job));
          if (isWait(r)) return await sleepJob(job, token, r, ctx.clock, ctx.settings);
          return r;
        }
        case PAUSE_CAP_JOB_NAME: {
          const r = await runPauseCap(ctx, parseJobData(PauseCapJob, job));
          if (isWait(r)) return await sleepJob(job, token, r, ctx.clock, ctx.settings);
          return r;
        }
        case LATE_PLAN_JOB_NAME:
          return await planLateInstallations(ctx, parseJobData(LatePlanJob, job));
        case RECONCILE_JOB_NAME: {
          parseJobData(ReconcileJob, job);
          const { overdueByApp: _, approvals: __, ...r } = await reconcile(ctx);
          return r;
        }
        default:
          throw unknownJob(job);
      }
    } catch (err) {
      throw toWorkerError(err);
    }
  };
}

/** The `notify` queue's processor. */
export function notifyProcessor(ctx: AppContext) {
  return async (job: Job, token?: string): Promise<unknown> => {
    try {
      const r = await notifyBatch(ctx, parseJobData(NotifyBatchJob, job));
      if (isWait(r)) return await sleepJob(job, token, r, ctx.clock, ctx.settings);
      return r;
    } catch (err) {
      throw toWorkerError(err);
    }
  };
}

/**
 * Schedules the reconciliation sweep on the rollout queue every `settings.reconcileIntervalMs`
 * clock ms (a BullMQ job scheduler, converted to real ms with `timeScale`): idempotent, so every
 * daemon may call it at start; the last call's interval wins.
 */
export async function scheduleReconcile(ctx: Pick<WorkerContext, 'queues' | 'settings'>): Promise<void> {
  const every = Math.max(1000, Math.round(ctx.settings.reconcileIntervalMs / ctx.settings.timeScale));
  const data: ReconcileJob = { v: 1 };
  await ctx.queues.rollout.upsertJobScheduler(
    RECONCILE_SCHEDULER_ID,
    { every },
    { name: RECONCILE_JOB_NAME, data, opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } },
  );
}
