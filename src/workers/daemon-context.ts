/**
 * Everything the detection side of the daemon shares: stores, queues, fetcher, metrics and
 * settings, built once from `RuntimeDeps` by the composition root (src/main.ts) or a test.
 */
import { Queue, type JobsOptions } from 'bullmq';
import { createKeys, type Keys } from '../store/keys.js';
import { AppStore } from '../store/app-store.js';
import { DescriptorStore } from '../store/descriptor-store.js';
import { PollScheduleStore } from '../store/poll-schedule-store.js';
import { VersionStore } from '../store/version-store.js';
import { DescriptorFetcher, type FetchPolicy } from '../poller/descriptor-fetcher.js';
import { createDaemonMetrics, type DaemonMetrics } from '../metrics/detection-metrics.js';
import type { DetectionDeps } from '../app/detection/detection-deps.js';
import type { FetchesDescriptors } from '../app/detection/poll-app.js';
import { createLimiter, type Limiter } from '../lib/limiter.js';
import {
  PLAN_ROLLOUT_JOB_NAME,
  POLL_JOB_NAME,
  QueueName,
  VERSION_JOB_NAME,
  planRolloutJobId,
  pollJobId,
  versionJobId,
  type PlanRolloutJob,
  type PollJob,
  type VersionJob,
} from '../jobs/queues.js';
import type { Closable, RuntimeDeps } from './runtime.js';

/** Detection settings. Times in ms. */
export interface DetectionSettings {
  /** @defaultValue 5 h (seed 003) */
  pollIntervalMs: number;
  /** Fetches in flight per process, single polls and chunks together. @defaultValue 50 */
  pollConcurrency: number;
  /**
   * Apps per scheduled poll job (a chunk of one tick's due apps, claimed and versioned
   * together). @defaultValue 250 (bench/poll.bench.ts: 100 left the fetches under-filled, 500
   * held too much at once)
   */
  pollBatchSize: number;
  /** Attempts per poll (retryable failures only). @defaultValue 4 */
  pollAttempts: number;
  /** First retry delay, doubled each attempt. @defaultValue 30 s */
  pollBackoffMs: number;
  /** @defaultValue 4 */
  versionConcurrency: number;
}

export const DEFAULT_DETECTION_SETTINGS: DetectionSettings = Object.freeze({
  pollIntervalMs: 5 * 3_600_000,
  pollConcurrency: 50,
  pollBatchSize: 250,
  pollAttempts: 4,
  pollBackoffMs: 30_000,
  versionConcurrency: 4,
});

/** The shared detection context: `DetectionDeps` plus the runtime, queues and fetcher. */
export interface DaemonContext extends DetectionDeps, RuntimeDeps, Closable {
  keys: Keys;
  settings: DetectionSettings;
  fetcher: FetchesDescriptors & { close?(): Promise<void> };
  metrics: DaemonMetrics;
  queues: { poll: Queue; version: Queue; rollout: Queue };
  /** Bounds the process's fetches in flight to `settings.pollConcurrency`. */
  pollLimiter: Limiter;
  /**
   * Enqueues a poll (deterministic id: a second enqueue of the same slot is a no-op). `retry`: the
   * retry of a scheduled poll whose first attempt failed in a chunk: it waits `pollBackoffMs`, has
   * the attempts left and continues the exponential backoff (so 30 s, 60 s, 120 s as before).
   */
  enqueuePoll(job: PollJob, retry?: { firstAttemptDone: true }): Promise<void>;
  /** Job options of a scheduled chunk of polls (scheduler). */
  pollBatchJobOptions(): JobsOptions;
  /** Enqueues several rollout plans in one round trip (`addBulk`, deterministic ids). */
  enqueuePlanRollouts(jobs: readonly PlanRolloutJob[]): Promise<void>;
}

/**
 * Builds the context. Queues use `deps.connection` and BullMQ `prefix: deps.prefix`; the stores
 * use a duplicate of it with auto-pipelining, which the context owns.
 * `close()` closes the queues, the stores' connection and the fetcher (not `deps.connection`,
 * which the caller owns).
 */
export function createDaemonContext(
  deps: RuntimeDeps,
  opts: { settings?: Partial<DetectionSettings>; fetchPolicy?: Partial<FetchPolicy>; fetcher?: FetchesDescriptors; metrics?: DaemonMetrics } = {},
): DaemonContext {
  const settings = { ...DEFAULT_DETECTION_SETTINGS, ...opts.settings };
  const keys = createKeys(deps.prefix);
  const qopts = { connection: deps.connection, prefix: deps.prefix };
  const queues = {
    poll: new Queue(QueueName.poll, qopts),
    version: new Queue(QueueName.version, qopts),
    rollout: new Queue(QueueName.rollout, qopts),
  };
  const ownFetcher = opts.fetcher ? undefined : new DescriptorFetcher(opts.fetchPolicy);
  const fetcher = opts.fetcher ?? ownFetcher!;
  const pollLimiter = createLimiter(settings.pollConcurrency);
  const metrics =
    opts.metrics ??
    createDaemonMetrics(
      async () => {
        const out: Record<string, Record<string, number>> = {};
        for (const q of Object.values(queues)) out[q.name] = await q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized');
        return out;
      },
      () => pollLimiter.inUse(),
    );
  const pollJobOptions: JobsOptions = {
    attempts: settings.pollAttempts,
    backoff: { type: 'exponential', delay: settings.pollBackoffMs },
    // Completed poll jobs are kept for one interval so that a late second daemon's enqueue of
    // the same slot (or chunk) stays a no-op.
    removeOnComplete: { age: Math.ceil(settings.pollIntervalMs / 1000), count: 100_000 },
    removeOnFail: { age: 7 * 86_400 },
  };
  const versionJobOptions: JobsOptions = {
    attempts: 5,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 30 * 86_400 },
    removeOnFail: { age: 30 * 86_400 },
  };
  const planJobOptions: JobsOptions = { attempts: 5, backoff: { type: 'exponential', delay: 1_000 }, removeOnComplete: { age: 30 * 86_400 } };
  // The stores' connection pipelines automatically: the commands that concurrent polls and
  // versioning steps issue in the same tick go out in one socket write. Socket writes were the
  // largest single cost of a poll cycle's Redis traffic (bench/poll.bench.ts profile). BullMQ
  // keeps `deps.connection`.
  const storeConnection = deps.connection.duplicate({ enableAutoPipelining: true });
  const enqueueVersion = async (job: VersionJob): Promise<void> => {
    await queues.version.add(VERSION_JOB_NAME, job, { ...versionJobOptions, jobId: versionJobId(job) });
  };
  return {
    ...deps,
    keys,
    settings,
    fetcher,
    metrics,
    queues,
    apps: new AppStore(storeConnection, keys),
    versions: new VersionStore(storeConnection, keys),
    descriptors: new DescriptorStore(storeConnection, keys),
    schedule: new PollScheduleStore(storeConnection, keys),
    pollLimiter,
    async enqueuePoll(job, retry) {
      await queues.poll.add(POLL_JOB_NAME, job, {
        ...pollJobOptions,
        jobId: pollJobId(job),
        ...(retry
          ? {
              delay: settings.pollBackoffMs,
              attempts: Math.max(1, settings.pollAttempts - 1),
              backoff: { type: 'exponential', delay: 2 * settings.pollBackoffMs },
            }
          : {}),
      });
    },
    pollBatchJobOptions: () => ({ ...pollJobOptions }),
    enqueueVersion,
    async enqueuePlanRollout(job) {
      await queues.rollout.add(PLAN_ROLLOUT_JOB_NAME, job, { ...planJobOptions, jobId: planRolloutJobId(job) });
    },
    async enqueuePlanRollouts(jobs) {
      const byId = new Map(jobs.map((j) => [planRolloutJobId(j), j]));
      if (byId.size === 0) return;
      await queues.rollout.addBulk([...byId].map(([jobId, data]) => ({ name: PLAN_ROLLOUT_JOB_NAME, data, opts: { ...planJobOptions, jobId } })));
    },
    async close() {
      await Promise.all(Object.values(queues).map((q) => q.close()));
      await ownFetcher?.close();
      await storeConnection.quit().catch(() => storeConnection.disconnect());
    },
  };
}
