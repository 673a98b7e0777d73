/**
 * BullMQ adapter of `recordVersion` (queue `versioning`): classify, allocate, store, hand to the
 * rollout planner. Jobs: a single change (`VersionJob`: Forge deploys, CLI, retries) or a poll
 * chunk's changes (`VersionBatchJob`, `recordVersionBatch`).
 */
import { UnrecoverableError, Worker } from 'bullmq';
import { recordVersion, recordVersionBatch, type RecordVersionBatchDeps, type RecordVersionBatchResult, type RecordVersionResult } from '../app/detection/record-version.js';
import type { DaemonContext } from './daemon-context.js';
import { toWorkerError } from './poll.worker.js';
import { QueueName, VERSION_BATCH_JOB_NAME, VersionBatchJob, VersionJob } from '../jobs/queues.js';

/** Starts the versioning worker on `ctx`. */
export function createVersionWorker(ctx: DaemonContext): Worker<unknown, RecordVersionResult | RecordVersionBatchResult> {
  const deps: RecordVersionBatchDeps = ctx;
  const worker = new Worker<unknown, RecordVersionResult | RecordVersionBatchResult>(
    QueueName.version,
    async (job) => {
      if (job.name === VERSION_BATCH_JOB_NAME) {
        const parsed = VersionBatchJob.safeParse(job.data);
        if (!parsed.success) throw new UnrecoverableError(`payload-invalid: ${parsed.error.message}`);
        try {
          return await recordVersionBatch(deps, parsed.data.changes);
        } catch (err) {
          throw toWorkerError(err);
        }
      }
      const parsed = VersionJob.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`payload-invalid: ${parsed.error.message}`);
      try {
        return await recordVersion(deps, parsed.data);
      } catch (err) {
        throw toWorkerError(err);
      }
    },
    { connection: ctx.connection, prefix: ctx.prefix, concurrency: ctx.settings.versionConcurrency },
  );
  return worker;
}
