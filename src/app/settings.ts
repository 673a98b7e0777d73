/**
 * Execution settings of the daemon's use cases and workers, one object per process (the
 * composition root fills it from the configuration). Times in ms: "clock ms" are times of the
 * injected `Clock`; "real ms" are wall-clock durations (BullMQ delays, locks), which differ only
 * on a scaled clock (`timeScale`).
 */

/** Detection and versioning settings. */
export interface DetectionSettings {
  /** Poll interval of every Connect app, clock ms. @defaultValue 5 h (seed 003; DESIGN.md "Detection rules") */
  pollIntervalMs: number;
  /** Descriptor fetches in flight per process, single polls and chunks together. @defaultValue 50 */
  pollConcurrency: number;
  /**
   * Apps per scheduled poll job (a chunk of one tick's due apps, claimed and versioned together).
   * @defaultValue 250 (docs/performance.md: 100 left the fetches under-filled, 500 held too much at once)
   */
  pollBatchSize: number;
  /** Attempts per poll (retryable failures only). @defaultValue 4 */
  pollAttempts: number;
  /** First retry delay of a failed poll, doubled each attempt, real ms. @defaultValue 30 s */
  pollBackoffMs: number;
  /** Versioning jobs processed at once per process. @defaultValue 4 */
  versionConcurrency: number;
}

export const DEFAULT_DETECTION_SETTINGS: Readonly<DetectionSettings> = Object.freeze({
  pollIntervalMs: 5 * 3_600_000,
  pollConcurrency: 50,
  pollBatchSize: 250,
  pollAttempts: 4,
  pollBackoffMs: 30_000,
  versionConcurrency: 4,
});

/** Rollout settings. */
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
   * `ScaledClock` running one hour per second (demo, fast integration tests). Every delayed job
   * of the process (plans, approvals, late installations) is converted with this one value.
   * @defaultValue 1
   */
  timeScale: number;
  /** How often a batch of a paused rollout looks again, real ms. @defaultValue 2000 */
  pauseRecheckMs: number;
  /** Attempts of a notify job (exponential backoff from `notifyBackoffMs`). @defaultValue 5 */
  notifyAttempts: number;
  /** First retry delay of a notify job, real ms. @defaultValue 1000 */
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
  /**
   * Bulk upgrades running at once across every app and account (DESIGN.md "Distribution rules":
   * a global limit; seeds 000/001 give no figure). @defaultValue 10
   */
  bulkUpgradeLimit: number;
  /**
   * How long a finished (completed or cancelled) bulk upgrade's record is kept, clock ms (seed 000:
   * "records … are time-limited"). @defaultValue 30 days
   */
  bulkUpgradeRetentionMs: number;
  /**
   * How often a pending approval's notice is repeated to its admins, clock ms, until the
   * installation is approved, upgraded, or a newer version's notice supersedes it. @defaultValue 3 days
   */
  approvalReminderIntervalMs: number;
  /**
   * How often the reconciliation sweep runs (app/rollout/reconcile.ts), clock ms: an installation
   * whose upgrade job was lost reaches its version within one interval of its promised time.
   * @defaultValue 1 h
   */
  reconcileIntervalMs: number;
  /**
   * How late past its promised time an installation counts as overdue, clock ms: a batch due now
   * may simply not have run yet. @defaultValue 5 min
   */
  reconcileGraceMs: number;
  /**
   * Error budget of a rollout (rollout/phased-release.ts `judgeErrorBudget`): it pauses itself when
   * reported failures exceed `max(errorBudgetCount, errorBudgetRatio × upgraded)`. @defaultValue 5
   */
  errorBudgetCount: number;
  /** See `errorBudgetCount`. @defaultValue 0.05 */
  errorBudgetRatio: number;
  /**
   * Longest total pause of a phased release, clock ms, after which an operator's pause ends by
   * itself (Apple's phased release: 30 days). @defaultValue 30 days
   */
  phasedPauseCapMs: number;
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
  bulkUpgradeLimit: 10,
  bulkUpgradeRetentionMs: 30 * 86_400_000,
  approvalReminderIntervalMs: 3 * 86_400_000,
  reconcileIntervalMs: 3_600_000,
  reconcileGraceMs: 300_000,
  errorBudgetCount: 5,
  errorBudgetRatio: 0.05,
  phasedPauseCapMs: 30 * 86_400_000,
});

/** Every setting of a process. */
export type Settings = DetectionSettings & RolloutSettings;

export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  ...DEFAULT_DETECTION_SETTINGS,
  ...DEFAULT_ROLLOUT_SETTINGS,
});
