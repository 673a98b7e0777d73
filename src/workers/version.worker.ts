/**
 * BullMQ adapter of the versioning step (queue `versioning`; src/app/detection/record-version.ts):
 * classify, allocate, store, hand to the rollout planner. Jobs: a single change (`VersionJob`:
 * Forge deploys, CLI, retries) or a poll chunk's changes (`VersionBatchJob`).
 */
import { Worker } from 'bullmq';
import {
  recordVersion,
  recordVersionBatch,
  type RecordVersionBatchResult,
  type RecordVersionResult,
} from '../app/detection/record-version.js';
import { QueueName, VERSION_BATCH_JOB_NAME, VersionBatchJob, VersionJob } from '../jobs/queues.js';
import { parseJobData, toWorkerError } from './boundary.js';
import type { WorkerContext } from './worker-context.js';

/** Starts the versioning worker on `ctx`. */
export function createVersionWorker(
  ctx: WorkerContext,
): Worker<unknown, RecordVersionResult | RecordVersionBatchResult> {
  return new Worker<unknown, RecordVersionResult | RecordVersionBatchResult>(
    QueueName.version,
    async (job) => {
      try {
        if (job.name === VERSION_BATCH_JOB_NAME)
          return await recordVersionBatch(ctx, parseJobData(VersionBatchJob, job).changes);
        return await recordVersion(ctx, parseJobData(VersionJob, job));
      } catch (err) {
        throw toWorkerError(err);
      }
    },
    {
      connection: ctx.connection,
      prefix: ctx.queuePrefix,
      lockDuration: ctx.settings.lockDurationMs,
      stalledInterval: ctx.settings.stalledIntervalMs,
      concurrency: ctx.settings.versionConcurrency,
    },
  );
}
