/**
 * BullMQ adapter of the poller (queue `descriptor-poll`): chunks of scheduled polls
 * (`pollBatch`), and single polls (`pollApp`: retries of a chunk's failed polls, manual polls).
 * A single poll's retryable failures are retried with exponential backoff (job options set at
 * enqueue); permanent ones end as `UnrecoverableError`. A chunk's per-app failures are recorded
 * on the apps and retried as single polls; the chunk itself fails only on errors that are not
 * poll outcomes (Redis), and is then retried as a whole.
 */
import { setMaxListeners } from 'node:events';
import { WaitingError, Worker } from 'bullmq';
import { pollSingle, type FetchesDescriptors, type PollAppResult } from '../app/detection/poll-app.js';
import { pollBatch, type PollBatchResult } from '../app/detection/poll-batch.js';
import { createLimiter } from '../lib/limiter.js';
import { recordVersionBatch } from '../app/detection/record-version.js';
import type { KnownState } from '../app/detection/detection-deps.js';
import type { WorkerContext } from './worker-context.js';
import { parseJobData, toWorkerError } from './boundary.js';
import { POLL_BATCH_JOB_NAME, PollBatchJob, PollJob, QueueName, pollJobId, type VersionJob } from '../jobs/queues.js';

/** Why a chunk waiting for its turn stops: the worker is closing. */
const HAND_BACK = new Error('poll worker closing: chunk handed back');

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
  // Chunks in progress at once: enough to keep `pollConcurrency` fetches in flight while three
  // more are in their tails (slowest polls, versioning their changes, recording), so the event
  // loop does not wait on Redis. The others wait before claiming their apps, so claims stay
  // close to their fetches and the process holds a few chunks' polls, not a whole tick's, which
  // keeps garbage collection low (docs/performance.md).
  // On shutdown the chunks still waiting are handed back (to the queue's wait list, for this or
  // another daemon), not polled: `close()` waits for the chunks in progress only.
  const chunks = createLimiter(Math.ceil(ctx.settings.pollConcurrency / ctx.settings.pollBatchSize) + 3);
  const closing = new AbortController();
  // Every chunk waiting for its turn listens for the worker closing: as many as a tick's chunks.
  setMaxListeners(0, closing.signal);
  const worker = new Worker(
    QueueName.poll,
    async (job, token) => {
      if (job.name === POLL_BATCH_JOB_NAME) {
        const { polls } = parseJobData(PollBatchJob, job);
        try {
          return await chunks.run(() => pollBatch(batchDeps, polls, job.id!), closing.signal);
        } catch (err) {
          if (err !== HAND_BACK) throw err;
          await job.moveToWait(token);
          throw new WaitingError();
        }
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
    // Chunks wait on their limiter, not on worker slots: enough slots for single polls and chunks.
    { connection: ctx.connection, prefix: ctx.queuePrefix, concurrency: ctx.settings.pollConcurrency },
  );
  worker.on('closing', () => closing.abort(HAND_BACK));
  return worker;
}
