/**
 * BullMQ adapter of the poller (queue `descriptor-poll`): chunks of scheduled polls
 * (`pollBatch`), and single polls (`pollApp`: retries of a chunk's failed polls, manual polls).
 * A single poll's retryable failures are retried with exponential backoff (job options set at
 * enqueue); permanent ones end as `UnrecoverableError`. A chunk's per-app failures are recorded
 * on the apps and retried as single polls; the chunk itself fails only on errors that are not
 * poll outcomes (Redis), and is then retried as a whole.
 */
import { Worker } from 'bullmq';
import { pollSingle, type FetchesDescriptors, type PollAppResult } from '../app/detection/poll-app.js';
import { pollBatch, type PollBatchResult } from '../app/detection/poll-batch.js';
import { recordVersionBatch } from '../app/detection/record-version.js';
import type { KnownState } from '../app/detection/detection-deps.js';
import type { WorkerContext } from './worker-context.js';
import { parseJobData, toWorkerError } from './boundary.js';
import { POLL_BATCH_JOB_NAME, PollBatchJob, PollJob, QueueName, pollJobId, type VersionJob } from '../jobs/queues.js';

/** The context's fetcher behind its limiter (the fetch alone waits for a place). */
function limitedFetcher(ctx: WorkerContext): FetchesDescriptors {
  return { fetch: (url, cond) => ctx.pollLimiter.run(() => ctx.fetcher.fetch(url, cond)) };
}

/** Starts the poll worker on `ctx`; fetches in flight are bounded by `ctx.pollLimiter`. */
export function createPollWorker(
  ctx: WorkerContext,
): Worker<unknown, PollAppResult | PollBatchResult | { appId: string; skipped: string }> {
  const batchDeps = {
    ...ctx,
    limiter: ctx.pollLimiter,
    retryJobId: (p: { appId: string; slot: number }) => (ctx.settings.pollAttempts > 1 ? pollJobId(p) : undefined),
    enqueueRetry: (p: { appId: string; slot: number }, jobId: string) =>
      ctx.enqueuePoll({ v: 1, appId: p.appId, slot: p.slot, claim: jobId }, { firstAttemptDone: true }),
    // A chunk's changes are versioned in the chunk's job, not queued one job per change: no
    // per-job queue cost, and no second read and parse of each descriptor (docs/performance.md).
    versionChanges: async (changes: readonly VersionJob[], known: ReadonlyMap<VersionJob, KnownState>) =>
      void (await recordVersionBatch(ctx, changes, known)),
  };
  // Jobs in progress at once (chunks and single polls): enough chunks to keep `pollConcurrency`
  // fetches in flight while three more are in their tails (slowest polls, versioning their
  // changes, recording), so the event loop does not wait on Redis. No more: a daemon takes a
  // chunk only when it can start it, so the chunks of a tick spread over every daemon instead of
  // waiting in the first one that woke (each daemon holds a few chunks' polls, not a whole
  // tick's, which also keeps garbage collection low; docs/performance.md). On shutdown the
  // chunks in progress finish; the others are still in the queue, for this or another daemon.
  const slots = Math.ceil(ctx.settings.pollConcurrency / ctx.settings.pollBatchSize) + 3;
  const worker = new Worker(
    QueueName.poll,
    async (job) => {
      if (job.name === POLL_BATCH_JOB_NAME) {
        const { polls } = parseJobData(PollBatchJob, job);
        return await pollBatch(batchDeps, polls, job.id!);
      }
      const data = parseJobData(PollJob, job);
      // The retry keeps its slot's claim while BullMQ has attempts left for this job.
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      try {
        return await pollSingle({ ...ctx, fetcher: limitedFetcher(ctx) }, data, { lastAttempt });
      } catch (err) {
        throw toWorkerError(err);
      }
    },
    {
      connection: ctx.connection,
      prefix: ctx.queuePrefix,
      lockDuration: ctx.settings.lockDurationMs,
      stalledInterval: ctx.settings.stalledIntervalMs,
      concurrency: slots,
    },
  );
  return worker;
}
