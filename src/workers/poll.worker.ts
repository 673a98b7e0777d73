/**
 * BullMQ adapter of the poller (queue `descriptor-poll`): chunks of scheduled polls
 * (`pollBatch`), and single polls (`pollApp`: retries of a chunk's failed polls, manual polls).
 * A single poll's retryable failures are retried with exponential backoff (job options set at
 * enqueue); permanent ones end as `UnrecoverableError`. A chunk's per-app failures are recorded
 * on the apps and retried as single polls; the chunk itself fails only on errors that are not
 * poll outcomes (Redis), and is then retried as a whole.
 */
import { setMaxListeners } from 'node:events';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { AppError, ErrorCode, isAppError } from '../lib/errors.js';
import { pollApp, pollLoadedApp, type FetchesDescriptors, type PollAppResult } from '../app/detection/poll-app.js';
import { pollBatch, type PollBatchResult } from '../app/detection/poll-batch.js';
import { createLimiter } from '../lib/limiter.js';
import { recordVersionBatch } from '../app/detection/record-version.js';
import type { KnownState } from '../app/detection/detection-deps.js';
import type { DaemonContext } from './daemon-context.js';
import { POLL_BATCH_JOB_NAME, PollBatchJob, PollJob, QueueName, pollJobId, type VersionJob } from '../jobs/queues.js';

/** Translates an error for BullMQ once (STYLE.md, "Error model"). */
export function toWorkerError(err: unknown): Error {
  if (err instanceof AppError && !err.retryable) return new UnrecoverableError(`${err.code}: ${err.message}`);
  return err instanceof Error ? err : new Error(String(err));
}

/** Why a chunk waiting for its turn stops: the worker is closing. */
const HAND_BACK = new Error('poll worker closing: chunk handed back');

/** A single poll: a manual one, or the retry of a chunk's poll (holding that slot's claim). */
async function pollOne(ctx: DaemonContext, job: Job, data: PollJob): Promise<PollAppResult | { appId: string; skipped: 'taken' | 'gone' }> {
  const deps = { ...ctx, fetcher: limitedFetcher(ctx) };
  if (data.claim === undefined || typeof data.slot !== 'number') return pollApp(deps, data.appId);
  const [c] = await ctx.apps.claimPolls(data.claim, [{ appId: data.appId, slot: data.slot }]);
  if (c!.status !== 'claimed') return { appId: data.appId, skipped: c!.status };
  // Keep the claim while BullMQ has attempts left for this job; the last attempt ends the slot.
  const retryOwner = job.attemptsMade + 1 < (job.opts.attempts ?? 1) ? data.claim : undefined;
  try {
    return await pollLoadedApp(deps, c!.app, { slot: data.slot as number, owner: data.claim!, retryOwner });
  } catch (err) {
    if (isAppError(err, ErrorCode.APP_NOT_FOUND)) return { appId: data.appId, skipped: 'gone' }; // removed while polled
    throw err;
  }
}

/** The context's fetcher behind its limiter (the fetch alone waits for a place). */
function limitedFetcher(ctx: DaemonContext): FetchesDescriptors {
  return { fetch: (url, cond) => ctx.pollLimiter.run(() => ctx.fetcher.fetch(url, cond)) };
}

/** Starts the poll worker on `ctx`; fetches in flight are bounded by `ctx.pollLimiter`. */
export function createPollWorker(ctx: DaemonContext): Worker<unknown, PollAppResult | PollBatchResult | { appId: string; skipped: string }> {
  const batchDeps = {
    ...ctx,
    limiter: ctx.pollLimiter,
    retryJobId: (p: { appId: string; slot: number }) => (ctx.settings.pollAttempts > 1 ? pollJobId(p) : undefined),
    enqueueRetry: (p: { appId: string; slot: number }, jobId: string) => ctx.enqueuePoll({ v: 1, appId: p.appId, slot: p.slot, claim: jobId }, { firstAttemptDone: true }),
    // A chunk's changes are versioned in the chunk's job: the queue's per-job cost and reading
    // and parsing each descriptor again were a third of a change's cost (bench/poll.bench.ts).
    versionChanges: async (changes: readonly VersionJob[], known: ReadonlyMap<VersionJob, KnownState>) => void (await recordVersionBatch(ctx, changes, known)),
  };
  // Chunks in progress at once: enough to keep `pollConcurrency` fetches in flight while three
  // more are in their tails (slowest polls, versioning their changes, recording; with one, the
  // event loop waited on Redis a fifth of a cycle in bench/poll.bench.ts). The others wait before claiming their apps, so claims
  // stay close to their fetches and the process holds a few chunks' polls, not a whole tick's
  // (holding all of them was a tenth of the cycle's CPU in garbage collection).
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
        const parsed = PollBatchJob.safeParse(job.data);
        if (!parsed.success) throw new UnrecoverableError(`payload-invalid: ${parsed.error.message}`);
        try {
          return await chunks.run(() => pollBatch(batchDeps, parsed.data.polls, job.id!), closing.signal);
        } catch (err) {
          if (err !== HAND_BACK) throw err;
          await job.moveToWait(token);
          throw new WaitingError();
        }
      }
      const parsed = PollJob.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`payload-invalid: ${parsed.error.message}`);
      try {
        return await pollOne(ctx, job, parsed.data);
      } catch (err) {
        throw toWorkerError(err);
      }
    },
    // Chunks wait on their limiter, not on worker slots: enough slots for single polls and chunks.
    { connection: ctx.connection, prefix: ctx.prefix, concurrency: ctx.settings.pollConcurrency },
  );
  worker.on('closing', () => closing.abort(HAND_BACK));
  return worker;
}
