/**
 * The worker boundary, used by every BullMQ processor (STYLE.md "Error model"): job data is
 * parsed once at the start (job data outlives deploys), errors are translated once at the end
 * (a non-retryable AppError ends BullMQ's retries), and a use case's "wait" decision becomes a
 * delayed job.
 */
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { BatchWait } from '../app/rollout/upgrade-batch.js';
import type { Settings } from '../app/settings.js';
import type { Clock } from '../lib/clock.js';
import { AppError, ErrorCode, isRetryable } from '../lib/errors.js';

/** A zod schema (or anything with its `safeParse`). */
export interface PayloadSchema<T> {
  safeParse(d: unknown): { success: true; data: T } | { success: false; error: { message: string } };
}

/**
 * Parses `job.data` with `schema`.
 * @throws UnrecoverableError `payload-invalid: job <id> (<name>): <problems>`: bad data is never retried.
 */
export function parseJobData<T>(schema: PayloadSchema<T>, job: Pick<Job, 'id' | 'name' | 'data'>): T {
  const r = schema.safeParse(job.data);
  if (!r.success)
    throw new UnrecoverableError(`${ErrorCode.PAYLOAD_INVALID}: job ${job.id} (${job.name}): ${r.error.message}`);
  return r.data;
}

/** The error for a job name the queue has no processor for: never retried. */
export function unknownJob(job: Pick<Job, 'name' | 'queueName'>): UnrecoverableError {
  return new UnrecoverableError(
    `${ErrorCode.PAYLOAD_INVALID}: unknown job name '${job.name}' on queue ${job.queueName}`,
  );
}

/**
 * Translates an error for BullMQ once: an AppError whose code is not retried (src/lib/errors.ts,
 * the catalogue) becomes an UnrecoverableError (`<code>: <message>`), which ends the job's
 * retries; anything else (a Redis hiccup, a retryable code) is retried with backoff.
 */
export function toWorkerError(err: unknown): Error {
  if (err instanceof AppError && !isRetryable(err)) return new UnrecoverableError(`${err.code}: ${err.message}`);
  return err instanceof Error ? err : new Error(String(err));
}

/** True when a use case's result is a decision to wait. */
export function isWait(r: unknown): r is BatchWait {
  return typeof r === 'object' && r !== null && (r as { kind?: unknown }).kind === 'wait';
}

/**
 * Puts the running job back to the delayed set and tells the worker so (BullMQ's documented
 * pattern: `moveToDelayed`, then throw `DelayedError`): until the wait's `until` (clock ms,
 * converted with `timeScale`), or `pauseRecheckMs` real ms for a paused rollout.
 */
export async function sleepJob(
  job: Job,
  token: string | undefined,
  wait: BatchWait,
  clock: Clock,
  settings: Pick<Settings, 'timeScale' | 'pauseRecheckMs'>,
): Promise<never> {
  if (wait.reason === 'paused' && wait.progressPercent !== undefined) await job.updateProgress(wait.progressPercent);
  const realMs =
    wait.reason === 'paused' ? settings.pauseRecheckMs : Math.ceil((wait.until - clock.now()) / settings.timeScale);
  await job.moveToDelayed(Date.now() + Math.max(1, realMs), token);
  throw new DelayedError();
}
