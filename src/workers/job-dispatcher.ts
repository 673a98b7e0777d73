/**
 * The BullMQ adapter of the application layer's enqueue ports (src/app/context.ts `JobPorts`):
 * job names, ids and payloads come from src/jobs/queues.ts; retry and retention options are
 * here. Clock times in payloads (`dueAt`, `at`) become BullMQ delays through the process's one
 * `timeScale`, so every delayed job of a process, whichever use case enqueued it, runs on the
 * same time scale.
 */
import type { JobsOptions, Queue } from 'bullmq';
import type { JobPorts } from '../app/context.js';
import type { Settings } from '../app/settings.js';
import type { Clock } from '../lib/clock.js';
import {
  ADOPTION_BATCH_JOB_NAME,
  adoptionBatchJobId,
  BULK_BATCH_JOB_NAME,
  BULK_PLAN_JOB_NAME,
  bulkBatchJobId,
  bulkPlanJobId,
  LATE_PLAN_JOB_NAME,
  NOTIFY_BATCH_JOB_NAME,
  PAUSE_CAP_JOB_NAME,
  PHASE_STEP_JOB_NAME,
  pauseCapJobId,
  phaseStepJobId,
  PLAN_ROLLOUT_JOB_NAME,
  POLL_BATCH_JOB_NAME,
  POLL_JOB_NAME,
  UPGRADE_BATCH_JOB_NAME,
  UPGRADE_JOB_OPTS,
  VERSION_JOB_NAME,
  isoTime,
  latePlanJobId,
  notifyBatchSize,
  notifyBatchJobId,
  planRolloutJobId,
  pollBatchJobId,
  pollJobId,
  upgradeBatchJobId,
  upgradeBatchSize,
  versionJobId,
  type NotifyBatchJob,
  type UpgradeBatchJob,
  type VersionJob,
} from '../jobs/queues.js';

// Fields for people reading bull-board (optional in the schemas; ids never depend on them).
const forPeople = {
  version: (j: VersionJob): VersionJob => ({ ...j, detectedAtIso: isoTime(j.detectedAt) }),
  upgrade: (j: UpgradeBatchJob): UpgradeBatchJob => ({
    ...j,
    dueAtIso: isoTime(j.dueAt),
    installations: upgradeBatchSize(j),
  }),
  notify: (j: NotifyBatchJob): NotifyBatchJob => ({ ...j, atIso: isoTime(j.at), installations: notifyBatchSize(j) }),
};

/** The process's queues, one per queue name (src/jobs/queues.ts `QueueName`). */
export interface Queues {
  poll: Queue;
  version: Queue;
  rollout: Queue;
  notify: Queue;
}

/** The enqueue ports, plus the options of a scheduled chunk of polls (the scheduler's). */
export interface JobDispatcher extends JobPorts {
  pollBatchJobOptions(): JobsOptions;
}

/** Jobs per `addBulk` call: large plans enqueue thousands of batches. */
const BULK = 500;

/** Builds the dispatcher on `queues`, converting clock times with `settings.timeScale`. */
export function createJobDispatcher(queues: Queues, clock: Clock, settings: Readonly<Settings>): JobDispatcher {
  /** Real-time BullMQ delay (ms) until clock time `at` (clock ms). */
  const delayUntil = (at: number): number => Math.max(0, Math.ceil((at - clock.now()) / settings.timeScale));
  const pollJobOptions: JobsOptions = {
    attempts: settings.pollAttempts,
    backoff: { type: 'exponential', delay: settings.pollBackoffMs },
    // Completed poll jobs are kept for one interval so that a late second daemon's enqueue of
    // the same slot (or chunk) stays a no-op.
    removeOnComplete: { age: Math.ceil(settings.pollIntervalMs / 1000), count: 100_000 },
    removeOnFail: { age: 7 * 86_400 },
  };
  const versionJobOptions: JobsOptions = {
    attempts: 5,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 30 * 86_400 },
    removeOnFail: { age: 30 * 86_400 },
  };
  const planJobOptions: JobsOptions = {
    attempts: 5,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 30 * 86_400 },
  };
  // A failed delivery is retried with exponential backoff (the notifier retries first).
  const notifyJobOptions: JobsOptions = {
    attempts: settings.notifyAttempts,
    backoff: { type: 'exponential', delay: settings.notifyBackoffMs },
    removeOnComplete: { age: 7 * 86_400, count: 10_000 },
    removeOnFail: { age: 30 * 86_400 },
  };
  const latePlanJobOptions: JobsOptions = {
    attempts: 10,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: 86_400, count: 1000 },
    removeOnFail: { age: 30 * 86_400 },
  };
  const addInChunks = async (
    queue: Queue,
    jobs: { name: string; data: unknown; opts: JobsOptions }[],
  ): Promise<void> => {
    for (let i = 0; i < jobs.length; i += BULK) await queue.addBulk(jobs.slice(i, i + BULK));
  };
  return {
    async enqueueVersion(job) {
      await queues.version.add(VERSION_JOB_NAME, forPeople.version(job), {
        ...versionJobOptions,
        jobId: versionJobId(job),
      });
    },
    async enqueuePlanRollout(job) {
      await queues.rollout.add(PLAN_ROLLOUT_JOB_NAME, job, { ...planJobOptions, jobId: planRolloutJobId(job) });
    },
    async enqueuePlanRollouts(jobs) {
      const byId = new Map(jobs.map((j) => [planRolloutJobId(j), j]));
      if (byId.size === 0) return;
      await queues.rollout.addBulk(
        [...byId].map(([jobId, data]) => ({ name: PLAN_ROLLOUT_JOB_NAME, data, opts: { ...planJobOptions, jobId } })),
      );
    },
    async enqueuePoll(job, retry) {
      await queues.poll.add(POLL_JOB_NAME, job, {
        ...pollJobOptions,
        jobId: pollJobId(job),
        ...(retry
          ? {
              delay: settings.pollBackoffMs,
              attempts: Math.max(1, settings.pollAttempts - 1),
              backoff: { type: 'exponential', delay: 2 * settings.pollBackoffMs },
            }
          : {}),
      });
    },
    pollBatchJobOptions: () => ({ ...pollJobOptions }),
    async enqueuePollBatches(jobs) {
      await addInChunks(
        queues.poll,
        jobs.map((data) => ({
          name: POLL_BATCH_JOB_NAME,
          data,
          opts: { ...pollJobOptions, jobId: pollBatchJobId(data) },
        })),
      );
    },
    async enqueueUpgradeBatches(jobs) {
      await addInChunks(
        queues.rollout,
        jobs.map((data) => ({
          name: UPGRADE_BATCH_JOB_NAME,
          data: forPeople.upgrade(data),
          opts: { jobId: upgradeBatchJobId(data), delay: delayUntil(data.dueAt), ...UPGRADE_JOB_OPTS },
        })),
      );
    },
    async enqueueNotifyBatches(jobs) {
      await addInChunks(
        queues.notify,
        jobs.map((data) => ({
          name: NOTIFY_BATCH_JOB_NAME,
          data: forPeople.notify(data),
          opts: { jobId: notifyBatchJobId(data), delay: delayUntil(data.at), ...notifyJobOptions },
        })),
      );
    },
    async enqueueBulkPlan(job) {
      await queues.rollout.add(BULK_PLAN_JOB_NAME, job, { ...planJobOptions, jobId: bulkPlanJobId(job) });
    },
    async enqueueBulkBatches(jobs) {
      await addInChunks(
        queues.rollout,
        jobs.map((data) => ({
          name: BULK_BATCH_JOB_NAME,
          data: { ...data, dueAtIso: isoTime(data.dueAt), installations: data.end - data.start + 1 },
          opts: { jobId: bulkBatchJobId(data), delay: delayUntil(data.dueAt), ...UPGRADE_JOB_OPTS },
        })),
      );
    },
    async enqueueAdoptionBatches(jobs) {
      await addInChunks(
        queues.rollout,
        jobs.map((data) => ({
          name: ADOPTION_BATCH_JOB_NAME,
          data: { ...data, atIso: isoTime(data.at), installations: data.ids.length },
          opts: { jobId: adoptionBatchJobId(data), delay: delayUntil(data.at), ...UPGRADE_JOB_OPTS },
        })),
      );
    },
    async enqueuePhaseSteps(jobs) {
      await addInChunks(
        queues.rollout,
        jobs.map((data) => ({
          name: PHASE_STEP_JOB_NAME,
          data: { ...data, atIso: isoTime(data.at) },
          opts: { jobId: phaseStepJobId(data), delay: delayUntil(data.at), ...UPGRADE_JOB_OPTS },
        })),
      );
    },
    async enqueuePauseCap(job) {
      await queues.rollout.add(
        PAUSE_CAP_JOB_NAME,
        { ...job, atIso: isoTime(job.at) },
        { jobId: pauseCapJobId(job), delay: delayUntil(job.at), ...UPGRADE_JOB_OPTS },
      );
    },
    async enqueueLatePlanning(requests) {
      const delay = delayUntil(clock.now() + settings.latePlanDelayMs);
      await addInChunks(
        queues.rollout,
        requests.map(({ appId, registered }) => ({
          name: LATE_PLAN_JOB_NAME,
          data: { v: 1, appId },
          opts: { ...latePlanJobOptions, jobId: latePlanJobId(appId, registered), delay },
        })),
      );
    },
  };
}
