/**
 * Polls a chunk of scheduled Connect apps (one BullMQ job per chunk, see queues.ts
 * `PollBatchJob`): the queue's per-job cost (enqueue, fetch, lock, completion: a dozen Redis
 * commands and several round trips) is paid once per chunk instead of once per app
 * (docs/performance.md).
 *
 * Each app keeps the guarantees of a job of its own: its slot is claimed on its record first
 * (AppStore.claimPolls, one Lua script per batch of apps), so an app in two daemons' overlapping
 * chunks is polled once per slot and a redelivered chunk skips the polls it finished; every
 * failure is recorded on the app; a retryable failure is retried on its own, with backoff, by a
 * single-app job that takes over the claim (`retryJob`).
 */
import { AppError, ErrorCode } from '../../lib/errors.js';
import type { VersionJob } from '../../jobs/queues.js';
import type { DetectionDeps, KnownState } from './detection-deps.js';
import { createHandOff } from '../../lib/hand-off.js';
import type { Limiter } from '../../lib/limiter.js';
import { pollLoadedApp, type FetchesDescriptors, type PollAppResult, type PollDeps } from './poll-app.js';

/** One scheduled poll: an app and its slot number (poll-schedule.ts). */
export interface ScheduledPoll {
  appId: string;
  slot: number;
}

/** What a chunk did, per app. */
export interface PollBatchResult {
  polled: number;
  notModified: number;
  unchanged: number;
  changed: number;
  /** Failed polls (recorded on the app); those with a retry are counted in `retrying` too. */
  failed: number;
  retrying: number;
  /** Claimed by another job (another daemon's chunk), polled for a later slot already, or not a pollable app. */
  skipped: number;
  /** No longer registered (when claimed, or removed while being polled). */
  gone: number;
}

export interface PollBatchDeps extends DetectionDeps {
  fetcher: FetchesDescriptors;
  /** Shared by every poll of the process: bounds fetches in flight (the fetch alone). */
  limiter: Limiter;
  /**
   * Id of the single-app job that retries a retryable failure of `poll` (it takes over the
   * claim), or undefined when no retry is configured.
   */
  retryJobId(poll: ScheduledPoll): string | undefined;
  /** Enqueues that retry (deterministic id: a second enqueue is a no-op). */
  enqueueRetry(poll: ScheduledPoll, jobId: string): Promise<void>;
  /**
   * Versions the chunk's detected changes together, in this process (the daemon runs
   * `recordVersionBatch`: each change classified and appended on its own, idempotently, a
   * failing one handed to a versioning job of its own), once every poll of the chunk has settled
   * or is waiting for it. `known`: what each change's poll read (its parsed descriptor, the
   * latest version), not read again; the polls do not store the descriptors, so this must
   * (`recordVersionBatch` does, with each version or before a hand-off). Absent: each change is
   * handed on by `enqueueVersion`, its descriptor stored by the poll first.
   */
  versionChanges?(changes: readonly VersionJob[], known: ReadonlyMap<VersionJob, KnownState>): Promise<void>;
}

/**
 * Polls `polls` under `owner` (the chunk's job id).
 * @throws the first error that is not a poll outcome (Redis unreachable…), after every poll has
 *   settled: the job is then retried and, owning the same claims, polls only what it had not done.
 */
export async function pollBatch(
  deps: PollBatchDeps,
  polls: readonly ScheduledPoll[],
  owner: string,
): Promise<PollBatchResult> {
  const out: PollBatchResult = {
    polled: 0,
    notModified: 0,
    unchanged: 0,
    changed: 0,
    failed: 0,
    retrying: 0,
    skipped: 0,
    gone: 0,
  };
  // Only the fetches wait for a place: the Redis writes of a finished poll do not hold one, so
  // `pollConcurrency` requests stay in flight.
  const fetcher: FetchesDescriptors = { fetch: (url, cond) => deps.limiter.run(() => deps.fetcher.fetch(url, cond)) };
  // The chunk's changes are versioned together, once every poll has settled or is waiting for
  // its change to be handed on: a poll keeps its validators only once its change is versioned
  // (or handed to a versioning job of its own), so a crash before re-fetches the change.
  const versionChanges = deps.versionChanges;
  const versions = versionChanges
    ? createHandOff<{ job: VersionJob; known?: KnownState }>((items) => {
        const known = new Map<VersionJob, KnownState>();
        for (const i of items) if (i.known) known.set(i.job, i.known);
        return versionChanges(
          items.map((i) => i.job),
          known,
        );
      })
    : undefined;
  // In-process versioning stores each change's descriptor with its version (one script), or
  // before handing it to a job of its own: the poll does not store it first.
  const pollDeps: PollDeps = {
    ...deps,
    fetcher,
    ...(versions
      ? {
          enqueueVersion: (job: VersionJob, known?: KnownState) => versions.handOff({ job, known }),
          handOffStoresDescriptor: true,
        }
      : {}),
  };
  const claims = await deps.apps.claimPolls(owner, polls);
  let infraError: unknown;
  await Promise.all(
    claims.map(async (c, i) => {
      const poll = polls[i]!;
      if (c.status === 'gone') return void out.gone++;
      if (c.status === 'taken') {
        out.skipped++;
        // Handed to a retry that may not have been enqueued (a crash, a Redis error in between):
        // enqueue it again; its id is deterministic, so this is a no-op when it exists.
        const retryId = deps.retryJobId(poll);
        if (retryId !== undefined && c.owner === retryId)
          await deps.enqueueRetry(poll, retryId).catch((e: unknown) => (infraError ??= e));
        return;
      }
      if (c.app.kind !== 'connect' || !c.app.descriptorUrl) return void out.skipped++;
      const retryOwner = deps.retryJobId(poll);
      let res: PollAppResult;
      versions?.begin();
      try {
        res = await pollLoadedApp(pollDeps, c.app, { slot: poll.slot, owner, retryOwner }).finally(() =>
          versions?.end(),
        );
      } catch (err) {
        if (!(err instanceof AppError)) return void (infraError ??= err);
        if (err.code === ErrorCode.APP_NOT_FOUND) return void out.gone++; // removed while polled
        out.polled++;
        out.failed++;
        if (err.retryable && retryOwner !== undefined) {
          // The claim is already the retry's (recorded with the failure): enqueue it now.
          try {
            await deps.enqueueRetry(poll, retryOwner);
            out.retrying++;
          } catch (e) {
            infraError ??= e;
          }
        }
        return;
      }
      out.polled++;
      if (res.outcome === 'not-modified') out.notModified++;
      else if (res.outcome === 'unchanged') out.unchanged++;
      else out.changed++;
    }),
  );
  if (infraError !== undefined) throw infraError;
  return out;
}
