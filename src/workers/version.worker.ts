/**
 * BullMQ adapter of `recordVersion` (queue `versioning`): classify, allocate, store, hand to the
 * rollout planner.
 */
import { UnrecoverableError, Worker } from 'bullmq';
import { recordVersion, type RecordVersionResult } from '../poller/record-version.js';
import type { DaemonContext } from './daemon-context.js';
import { toWorkerError } from './poll.worker.js';
import { QueueName, VersionJob } from './queues.js';

/** Starts the versioning worker on `ctx`. */
export function createVersionWorker(ctx: DaemonContext): Worker<VersionJob, RecordVersionResult> {
  return new Worker<VersionJob, RecordVersionResult>(
    QueueName.version,
    async (job) => {
      const parsed = VersionJob.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`payload-invalid: ${parsed.error.message}`);
      try {
        return await recordVersion(ctx, parsed.data);
      } catch (err) {
        throw toWorkerError(err);
      }
    },
    { connection: ctx.connection, prefix: ctx.prefix, concurrency: ctx.settings.versionConcurrency },
  );
}
