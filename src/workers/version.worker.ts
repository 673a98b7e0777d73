/**
 * BullMQ adapter of `recordVersion` (queue `versioning`): classify, allocate, store, hand to the
 * rollout planner. Jobs: a single change (`VersionJob`: Forge deploys, CLI, retries) or a poll
 * chunk's changes (`VersionBatchJob`, `recordVersionBatch`).
 *
 * The worker's stores use a connection of their own with auto-pipelining: the commands that a
 * batch's apps issue in the same tick go out in one socket write (one write per command was most
 * of a change's cost in bench/poll.bench.ts).
 */
import { UnrecoverableError, Worker } from 'bullmq';
import { recordVersion, recordVersionBatch, type RecordVersionBatchDeps, type RecordVersionBatchResult, type RecordVersionResult } from '../poller/record-version.js';
import { AppStore } from '../store/app-store.js';
import { DescriptorStore } from '../store/descriptor-store.js';
import { VersionStore } from '../store/version-store.js';
import type { DaemonContext } from './daemon-context.js';
import { toWorkerError } from './poll.worker.js';
import { QueueName, VERSION_BATCH_JOB_NAME, VersionBatchJob, VersionJob } from './queues.js';

/** Starts the versioning worker on `ctx`. */
export function createVersionWorker(ctx: DaemonContext): Worker<unknown, RecordVersionResult | RecordVersionBatchResult> {
  const connection = ctx.connection.duplicate({ enableAutoPipelining: true });
  const deps: RecordVersionBatchDeps = {
    ...ctx,
    apps: new AppStore(connection, ctx.keys),
    versions: new VersionStore(connection, ctx.keys),
    descriptors: new DescriptorStore(connection, ctx.keys),
  };
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
  // After the jobs in progress have finished (`close()` waits for them).
  worker.on('closed', () => void connection.quit().catch(() => connection.disconnect()));
  return worker;
}
