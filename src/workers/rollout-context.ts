/**
 * What the rollout side shares (issue 4): stores, queues, policy, settings and the notifier,
 * built once from `RuntimeDeps` (plus optional rollout fields) by `startRolloutWorkers`, the
 * HTTP routes, the CLI or a test.
 */
import { Queue } from 'bullmq';
import type { Registry } from 'prom-client';
import { resolveRolloutPolicy } from '../rollout/policy.js';
import type { PlannedVersion, RolloutPolicy } from '../rollout/types.js';
import { VersionLadder } from '../rollout/version-ladder.js';
import { createKeys, type Keys } from '../store/keys.js';
import { InstallationStore } from '../store/installation-store.js';
import { RolloutStore } from '../store/rollout-store.js';
import type { VersionReader, VersionRecord } from '../store/types.js';
import { VersionStore } from '../store/version-store.js';
import { LogNotifier, type Notifier } from '../notify/notifiers.js';
import { QueueName } from '../jobs/queues.js';
import { logErrors } from '../lib/log-errors.js';
import type { RuntimeDeps } from './runtime.js';
import { createRolloutMetrics, type RolloutMetrics } from '../metrics/rollout-metrics.js';

/** Execution settings (times in real ms unless said otherwise). */
export interface RolloutSettings {
  /** Installations per upgrade / notify job. @defaultValue 2000 */
  batchSize: number;
  /** Installations read per planner step. @defaultValue 5000 */
  planChunkSize: number;
  /** Upgrade batches processed at once per process. @defaultValue 4 */
  upgradeConcurrency: number;
  /** Notify batches at once per process. @defaultValue 2 */
  notifyConcurrency: number;
  /**
   * Clock ms per real ms, for BullMQ delays: 1 in production; 3600 when the clock is a
   * `ScaledClock` running one hour per second (demo, fast integration tests). @defaultValue 1
   */
  timeScale: number;
  /** How often a batch of a paused rollout looks again, real ms. @defaultValue 2000 */
  pauseRecheckMs: number;
  /** Attempts of a notify job (exponential backoff from `notifyBackoffMs`). @defaultValue 5 */
  notifyAttempts: number;
  /** @defaultValue 1000 */
  notifyBackoffMs: number;
  /**
   * BullMQ lock of an active job, real ms: a worker that dies (SIGKILL) holds its batch this long
   * before another worker takes it over. @defaultValue 30000 (BullMQ's default)
   */
  lockDurationMs: number;
  /** How often workers look for stalled jobs, real ms. @defaultValue 30000 (BullMQ's default) */
  stalledIntervalMs: number;
  /**
   * Rate limit of the rollout worker in jobs (batches) per second across all processes (BullMQ
   * limiter), e.g. 5 with batches of 2,000 caps upgrades at 10,000/s; 0 for none. @defaultValue 0
   */
  maxBatchesPerSecond: number;
  /**
   * How long after a registration call its late installations are planned, clock ms (the BullMQ
   * delay follows `timeScale`): the calls of a burst (an import's batches) that land within it
   * are planned by one job, into shared batches. @defaultValue 1000
   */
  latePlanDelayMs: number;
  /** Most installations one late-planning round holds in memory (it loops until the log is empty). @defaultValue 50000 */
  latePlanRoundSize: number;
}

export const DEFAULT_ROLLOUT_SETTINGS: Readonly<RolloutSettings> = Object.freeze({
  batchSize: 2000,
  planChunkSize: 5000,
  upgradeConcurrency: 4,
  notifyConcurrency: 2,
  timeScale: 1,
  pauseRecheckMs: 2000,
  notifyAttempts: 5,
  notifyBackoffMs: 1000,
  lockDurationMs: 30_000,
  stalledIntervalMs: 30_000,
  maxBatchesPerSecond: 0,
  latePlanDelayMs: 1000,
  latePlanRoundSize: 50_000,
});

/**
 * Optional rollout fields on top of `RuntimeDeps`; the daemon's `DaemonContext` already has
 * `versions` and `metrics`, so `startRolloutWorkers(ctx)` picks them up.
 */
export interface RolloutDeps extends RuntimeDeps {
  /** Versions to roll out. @defaultValue the Redis `VersionStore` on `connection` */
  versions?: VersionReader;
  /** Planner policy overrides (`DEFAULT_ROLLOUT_POLICY`). */
  rolloutPolicy?: Partial<RolloutPolicy>;
  /** @defaultValue LogNotifier on `logger` */
  notifier?: Notifier;
  /** Registry for the rollout metrics (the daemon's `/metrics`). @defaultValue a private registry */
  metrics?: { registry: Registry };
  rolloutSettings?: Partial<RolloutSettings>;
}

export interface RolloutContext extends RuntimeDeps {
  keys: Keys;
  installs: InstallationStore;
  rollouts: RolloutStore;
  versions: VersionReader;
  policy: Readonly<RolloutPolicy>;
  settings: Readonly<RolloutSettings>;
  notifier: Notifier;
  metrics: RolloutMetrics;
  queues: { rollout: Queue; notify: Queue };
  /** Closes the queues (not the connection). */
  close(): Promise<void>;
}

/** Builds the rollout context. @throws AppError policy-invalid */
export function createRolloutContext(deps: RolloutDeps): RolloutContext {
  const keys = createKeys(deps.prefix);
  const qopts = { connection: deps.connection, prefix: deps.prefix };
  const queues = { rollout: new Queue(QueueName.rollout, qopts), notify: new Queue(QueueName.notify, qopts) };
  for (const [name, q] of Object.entries(queues)) logErrors(q, deps.logger, { queue: name });
  const installs = new InstallationStore(deps.connection, keys);
  const rollouts = new RolloutStore(deps.connection, keys);
  return {
    connection: deps.connection,
    clock: deps.clock,
    logger: deps.logger,
    prefix: deps.prefix,
    keys,
    installs,
    rollouts,
    versions: deps.versions ?? new VersionStore(deps.connection, keys),
    policy: resolveRolloutPolicy(deps.rolloutPolicy),
    settings: Object.freeze({ ...DEFAULT_ROLLOUT_SETTINGS, ...deps.rolloutSettings }),
    notifier: deps.notifier ?? new LogNotifier(deps.logger),
    metrics: createRolloutMetrics(deps.metrics?.registry, { rollouts, installs }),
    queues,
    async close() {
      await Promise.all(Object.values(queues).map((q) => q.close()));
    },
  };
}

/** The planner's view of a stored version (publication = detection time). */
export function toPlannedVersion(r: VersionRecord): PlannedVersion {
  return { appId: r.appId, kind: r.kind, version: r.version, bump: r.bump, approval: r.approval, publishedAt: r.detectedAt };
}

/**
 * The versions installations may move to, as a ladder: every stored version except those whose
 * rollout an operator paused or halted, so that an older rollout's batch (which takes an
 * installation to the newest version it may have) does not carry installations past a pause or
 * a halt. A halted manual version no longer blocks later ones.
 */
export async function loadLadder(ctx: Pick<RolloutContext, 'versions' | 'rollouts'>, appId: string): Promise<VersionLadder> {
  const records = await ctx.versions.listVersions(appId);
  const statuses = await ctx.rollouts.statuses(
    appId,
    records.map((r) => r.version),
  );
  return new VersionLadder(records.filter((_, i) => statuses[i] !== 'halted' && statuses[i] !== 'paused').map(toPlannedVersion));
}

/** Options of a notify batch job: retried with exponential backoff (a failed delivery is retried, see notify.worker.ts). */
export function notifyJobOptions(settings: Pick<RolloutSettings, 'notifyAttempts' | 'notifyBackoffMs'>) {
  return {
    attempts: settings.notifyAttempts,
    backoff: { type: 'exponential', delay: settings.notifyBackoffMs },
    removeOnComplete: { age: 7 * 86_400, count: 10_000 },
    removeOnFail: { age: 30 * 86_400 },
  };
}

/** Real-time BullMQ delay for clock time `at`. */
export function realDelay(ctx: Pick<RolloutContext, 'clock' | 'settings'>, at: number): number {
  return Math.max(0, Math.ceil((at - ctx.clock.now()) / ctx.settings.timeScale));
}
