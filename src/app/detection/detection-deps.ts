/**
 * What the detection use cases (poll, deploy intake, versioning) are given: the stores, the
 * clock, the logger, metrics and two enqueue ports, so the same code runs inside BullMQ workers,
 * inside the CLI (`mpu poll` versions inline) and in tests.
 */
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import type { AppStore } from '../../store/app-store.js';
import type { DescriptorStore } from '../../store/descriptor-store.js';
import type { PollScheduleStore } from '../../store/poll-schedule-store.js';
import type { VersionStore } from '../../store/version-store.js';
import type { ParsedDescriptor, VersioningPolicy } from '../../versioning/index.js';
import type { ConnectProduct } from '../../versioning/connect-products.js';
import type { PlanRolloutJob, VersionJob } from '../../jobs/queues.js';
import type { DaemonMetrics } from '../../metrics/detection-metrics.js';
import type { LifecycleEvents } from '../events.js';

export interface DetectionDeps {
  apps: AppStore;
  versions: VersionStore;
  descriptors: DescriptorStore;
  schedule: PollScheduleStore;
  clock: Clock;
  logger: Logger;
  metrics?: DaemonMetrics;
  /** Lifecycle events (`poll:polled`, `version:created`); none emitted when absent. */
  events?: LifecycleEvents;
  /** Versioning policy; the engine's defaults when absent (DESIGN.md, "Versioning rules"). */
  policy?: VersioningPolicy;
  /**
   * Hands a detected descriptor to the versioning step (idempotent: deterministic job id).
   * `known`: what the detection already read, for a step that runs in this process; a queued
   * job reads it from the store.
   */
  enqueueVersion(job: VersionJob, known?: KnownState): Promise<void>;
  /** Hands a stored version to the rollout planner (idempotent: `planRolloutJobId`). */
  enqueuePlanRollout(job: PlanRolloutJob): Promise<void>;
}

/**
 * What the detection of a change already knows, handed to a versioning step in the same process
 * so that it is not read and parsed again (record-version.ts `recordVersion`).
 */
export interface KnownState {
  /** The descriptor stored under the job's `descriptorHash`, parsed. */
  after?: ParsedDescriptor;
  /**
   * The app's latest version as read when the change was detected (null: none yet). A stale
   * one costs a retry, never a wrong version: the store appends only onto the latest version.
   */
  latest?: { version: string; descriptorHash: string } | null;
  /**
   * The Connect product the app was registered for, as the poll's claim read it (null: none, so
   * inferred from the descriptor). Absent: the versioning step reads the app record.
   */
  product?: ConnectProduct | null;
}
