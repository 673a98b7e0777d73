/**
 * BullMQ adapter of `pollApp` (queue `descriptor-poll`). Retryable failures are retried with
 * exponential backoff (job options set at enqueue); permanent ones end as `UnrecoverableError`.
 */
import { UnrecoverableError, Worker } from 'bullmq';
import { AppError } from '../lib/errors.js';
import { pollApp, type PollAppResult } from '../poller/poll-app.js';
import type { DaemonContext } from './daemon-context.js';
import { PollJob, QueueName } from './queues.js';

/** Translates an error for BullMQ once (STYLE.md, "Error model"). */
export function toWorkerError(err: unknown): Error {
  if (err instanceof AppError && !err.retryable) return new UnrecoverableError(`${err.code}: ${err.message}`);
  return err instanceof Error ? err : new Error(String(err));
}

/** Starts the poll worker on `ctx` (concurrency `ctx.settings.pollConcurrency`). */
export function createPollWorker(ctx: DaemonContext): Worker<PollJob, PollAppResult> {
  return new Worker<PollJob, PollAppResult>(
    QueueName.poll,
    async (job) => {
      const parsed = PollJob.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`payload-invalid: ${parsed.error.message}`);
      try {
        return await pollApp(ctx, parsed.data.appId);
      } catch (err) {
        throw toWorkerError(err);
      }
    },
    { connection: ctx.connection, prefix: ctx.prefix, concurrency: ctx.settings.pollConcurrency },
  );
}
