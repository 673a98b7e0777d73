/**
 * The ports of the application layer: what every use case may be given. One `AppContext` is
 * built per process by the composition root (src/runtime.ts, called from src/main.ts) and handed
 * to workers, HTTP routes, CLI commands and the demo; each use case declares the slice it reads
 * (`Pick<AppContext, …>`), so tests build only that. Nothing here touches BullMQ or a Redis
 * connection: jobs go out through the enqueue ports, whose adapter (src/workers/job-dispatcher.ts)
 * turns clock times into BullMQ delays with the process's one `timeScale`.
 */
import type { Clock } from '../lib/clock.js';
import type { Limiter } from '../lib/limiter.js';
import type { Logger } from '../lib/logger.js';
import type {
  AdoptionBatchJob,
  BulkBatchJob,
  BulkPlanJob,
  NotifyBatchJob,
  PauseCapJob,
  PhaseStepJob,
  PlanRolloutJob,
  PollBatchJob,
  PollJob,
  UpgradeBatchJob,
  VersionJob,
} from '../jobs/queues.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RolloutPolicy } from '../rollout/types.js';
import type { AppRemover } from '../store/app-remover.js';
import type { AppStore } from '../store/app-store.js';
import type { AuditStore } from '../store/audit-store.js';
import type { BulkUpgradeStore } from '../store/bulk-upgrade-store.js';
import type { ApprovalNoticeStore } from '../store/approval-notice-store.js';
import type { DescriptorStore } from '../store/descriptor-store.js';
import type { InstallationStore } from '../store/installation-store.js';
import type { Keys } from '../store/keys.js';
import type { PollScheduleStore } from '../store/poll-schedule-store.js';
import type { RolloutStore } from '../store/rollout-store.js';
import type { SharingStore } from '../store/sharing-store.js';
import type { SiteStore } from '../store/site-store.js';
import type { VersionStore } from '../store/version-store.js';
import type { VersionReader } from '../store/types.js';
import type { VersioningPolicy } from '../versioning/index.js';
import type { FetchesDescriptors } from './detection/poll-app.js';
import type { KnownState } from './detection/detection-deps.js';
import type { LifecycleEvents } from './events.js';
import type { Notifier } from './rollout/notifier.js';
import type { ApprovalLinks } from './rollout/approval-links.js';
import type { InstallLinkKeys } from './distribution/sharing.js';
import type { Settings } from './settings.js';

/** The job a late-planning port call enqueues: the app and its registration count then. */
export interface LatePlanRequest {
  appId: string;
  /** Installations registered for the app when the request was made (names the job). */
  registered: number;
}

/**
 * Enqueue ports. Every job id is deterministic (src/jobs/queues.ts), so a retry, a second
 * enqueue or a second daemon adds nothing. Delays are given as clock times in the payloads
 * (`dueAt`, `at`) and converted by the adapter.
 */
export interface JobPorts {
  /**
   * Hands a detected descriptor to the versioning step. `known`: what the detection already read,
   * for a step that runs in this process; a queued job reads it from the store.
   */
  enqueueVersion(job: VersionJob, known?: KnownState): Promise<void>;
  /** Hands a stored version to the rollout planner. */
  enqueuePlanRollout(job: PlanRolloutJob): Promise<void>;
  /** Several rollout plans in one round trip. */
  enqueuePlanRollouts(jobs: readonly PlanRolloutJob[]): Promise<void>;
  /**
   * A single-app poll. `retry`: the retry of a scheduled poll whose first attempt failed in a
   * chunk: it waits `pollBackoffMs`, has the attempts left and continues the exponential backoff.
   */
  enqueuePoll(job: PollJob, retry?: { firstAttemptDone: true }): Promise<void>;
  /** Scheduled chunks of polls (one job per chunk). */
  enqueuePollBatches(jobs: readonly PollBatchJob[]): Promise<void>;
  /** Upgrade batches, each delayed until its `dueAt` (clock ms). */
  enqueueUpgradeBatches(jobs: readonly UpgradeBatchJob[]): Promise<void>;
  /** Notify batches, each delayed until its `at` (clock ms). */
  enqueueNotifyBatches(jobs: readonly NotifyBatchJob[]): Promise<void>;
  /** Late-planning jobs, each `latePlanDelayMs` (clock ms) from now. */
  enqueueLatePlanning(requests: readonly LatePlanRequest[]): Promise<void>;
  /** The plan job of a bulk upgrade, at once. */
  enqueueBulkPlan(job: BulkPlanJob): Promise<void>;
  /** Bulk upgrade batches, each delayed until its `dueAt` (clock ms). */
  enqueueBulkBatches(jobs: readonly BulkBatchJob[]): Promise<void>;
  /** Connect to Forge adoption batches, each delayed until its `at` (clock ms). */
  enqueueAdoptionBatches(jobs: readonly AdoptionBatchJob[]): Promise<void>;
  /** Phase steps of phased releases, each delayed until its `at` (clock ms). */
  enqueuePhaseSteps(jobs: readonly PhaseStepJob[]): Promise<void>;
  /** The end of a phased release's pause cap, delayed until its `at` (clock ms). */
  enqueuePauseCap(job: PauseCapJob): Promise<void>;
}

/** Everything a use case may be given. */
export interface AppContext extends JobPorts {
  clock: Clock;
  logger: Logger;
  /** Store key builder (pure). */
  keys: Keys;
  apps: AppStore;
  versions: VersionStore;
  descriptors: DescriptorStore;
  schedule: PollScheduleStore;
  installs: InstallationStore;
  rollouts: RolloutStore;
  /** "Update available" notices and their reminders (approval-notices.ts). */
  notices: ApprovalNoticeStore;
  bulkUpgrades: BulkUpgradeStore;
  /** Sites, their products and admins (app/distribution). */
  sites: SiteStore;
  /** Sharing by installation link, listing state, installation secrets (app/distribution). */
  sharing: SharingStore;
  /** Signs and checks installation links; absent: sharing by link is unavailable (no secret). */
  installLinks?: InstallLinkKeys;
  remover: AppRemover;
  fetcher: FetchesDescriptors;
  /** Bounds the process's descriptor fetches in flight to `settings.pollConcurrency`. */
  pollLimiter: Limiter;
  settings: Readonly<Settings>;
  /** Versioning policy; the engine's defaults when absent (DESIGN.md, "Versioning rules"). */
  policy?: VersioningPolicy;
  /** Rollout planner policy (DESIGN.md, "Rollout rules"). */
  rolloutPolicy: Readonly<RolloutPolicy>;
  notifier: Notifier;
  /** Signs the approval links of "update available" notices; absent: notices carry no links. */
  approvalLinks?: ApprovalLinks;
  metrics: Metrics;
  events: LifecycleEvents;
  /** The audit trail, for what the system does by itself (an error budget's pause, a pause cap's resume). */
  audit: Pick<AuditStore, 'record'>;
}

/** What the rollout use cases read: `versions` may be any reader of stored versions. */
export type RolloutContext = Omit<
  Pick<
    AppContext,
    | 'clock'
    | 'logger'
    | 'keys'
    | 'installs'
    | 'rollouts'
    | 'notices'
    | 'versions'
    | 'rolloutPolicy'
    | 'settings'
    | 'notifier'
    | 'approvalLinks'
    | 'metrics'
    | 'events'
    | 'enqueueUpgradeBatches'
    | 'enqueueNotifyBatches'
    | 'enqueueLatePlanning'
    | 'enqueueAdoptionBatches'
    | 'enqueuePhaseSteps'
    | 'enqueuePauseCap'
    | 'audit'
    | 'apps'
    | 'descriptors'
    | 'policy'
  >,
  'versions'
> & { versions: VersionReader };
