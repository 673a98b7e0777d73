/**
 * Builds the one context of a process (src/app/context.ts `AppContext`, plus the Redis
 * connection and queues that only adapters touch): stores, the four queues, the job dispatcher,
 * one metrics registry, the rollout policy, the settings, the notifier, the fetcher and the
 * lifecycle events. In src/ only the composition root (src/main.ts) calls it; tests and
 * benchmarks call it to build a process of their own.
 */
import { Queue } from 'bullmq';
import { LifecycleEvents } from './app/events.js';
import { LogNotifier, type Notifier } from './app/rollout/notifier.js';
import type { ApprovalLinks } from './app/rollout/approval-links.js';
import { DEFAULT_SETTINGS, type Settings } from './app/settings.js';
import type { FetchesDescriptors } from './app/detection/poll-app.js';
import { QueueName, queuePrefixFor } from './jobs/queues.js';
import { duplicateConnection, isCluster, type RedisConnection } from './lib/redis-connection.js';
import type { Clock } from './lib/clock.js';
import { createLimiter } from './lib/limiter.js';
import { createRedisErrorLog } from './lib/log-errors.js';
import type { Logger } from './lib/logger.js';
import { createMetrics } from './metrics/metrics.js';
import { DescriptorFetcher, type FetchPolicy } from './poller/descriptor-fetcher.js';
import { resolveRolloutPolicy } from './rollout/policy.js';
import type { RolloutPolicy } from './rollout/types.js';
import { AppRemover } from './store/app-remover.js';
import { AppStore } from './store/app-store.js';
import { AuditStore } from './store/audit-store.js';
import { BulkUpgradeStore } from './store/bulk-upgrade-store.js';
import { DescriptorStore } from './store/descriptor-store.js';
import { InstallationStore } from './store/installation-store.js';
import { createKeys } from './store/keys.js';
import { PollScheduleStore } from './store/poll-schedule-store.js';
import { ApprovalNoticeStore } from './store/approval-notice-store.js';
import { RolloutStore } from './store/rollout-store.js';
import { SharingStore } from './store/sharing-store.js';
import { SiteStore } from './store/site-store.js';
import type { InstallLinkKeys } from './app/distribution/sharing.js';
import { VARIADIC_KEY_SCRIPTS } from './store/scripts.js';
import { VersionStore } from './store/version-store.js';
import type { VersioningPolicy } from './versioning/index.js';
import { createJobDispatcher, type Queues } from './workers/job-dispatcher.js';
import type { WorkerContext } from './workers/worker-context.js';
import type { Closable } from './lib/closable.js';

/** What the composition root gives every process: one connection, the clock, the logger, the prefix. */
export interface RuntimeDeps {
  /** ioredis connection (one server or a cluster) created with `maxRetriesPerRequest: null` (BullMQ requires it). */
  connection: RedisConnection;
  clock: Clock;
  logger: Logger;
  /** Prefix for store keys (default `mpu`; no braces: each app's keys carry their own hash tag). */
  prefix: string;
  /** BullMQ's `prefix` option. @defaultValue `queuePrefixFor(prefix, connection is a cluster)` */
  queuePrefix?: string;
}

/** Options of `createAppContext`; every field has a production default. */
export interface AppContextOptions {
  settings?: Partial<Settings>;
  /** Descriptor fetcher policy (ports, address allow-list, limits). */
  fetchPolicy?: Partial<FetchPolicy>;
  /** Replaces the descriptor fetcher (benchmarks, tests). @defaultValue a `DescriptorFetcher` */
  fetcher?: FetchesDescriptors & { close?(): Promise<void> };
  /** Versioning policy. @defaultValue the engine's defaults (DESIGN.md "Versioning rules") */
  versioningPolicy?: VersioningPolicy;
  /** Planner policy overrides (`DEFAULT_ROLLOUT_POLICY`). @throws AppError policy-invalid */
  rolloutPolicy?: Partial<RolloutPolicy>;
  /** @defaultValue a `LogNotifier` on the logger */
  notifier?: Notifier;
  /** Signs approval links for notices. @defaultValue none: notices carry no links */
  approvalLinks?: ApprovalLinks;
  /** Signs and checks installation links. @defaultValue none: sharing by link is refused */
  installLinks?: InstallLinkKeys;
  /** Entries the audit trail keeps (`MPU_AUDIT_MAX_LEN`). @defaultValue 100,000 */
  auditMaxLen?: number;
}

/** The process's context: the application ports plus what only adapters use. */
export interface Runtime extends WorkerContext, Omit<RuntimeDeps, 'queuePrefix'>, Closable {}

/**
 * Builds the process's context. Queues use `deps.connection` and BullMQ `prefix: queuePrefix`.
 * The detection stores (apps, versions, descriptors) use a duplicate of the connection
 * with auto-pipelining, which the context owns: the commands that concurrent polls and
 * versioning steps issue in the same tick go out in one socket write (docs/performance.md).
 * `close()` closes the queues, that connection and the fetcher, not `deps.connection`.
 * @throws AppError policy-invalid
 */
export function createAppContext(deps: RuntimeDeps, opts: AppContextOptions = {}): Runtime {
  const settings: Readonly<Settings> = Object.freeze({ ...DEFAULT_SETTINGS, ...opts.settings });
  const rolloutPolicy = resolveRolloutPolicy(opts.rolloutPolicy);
  const keys = createKeys(deps.prefix);
  const queuePrefix = deps.queuePrefix ?? queuePrefixFor(deps.prefix, isCluster(deps.connection));
  const qopts = { connection: deps.connection, prefix: queuePrefix };
  const queues: Queues = {
    poll: new Queue(QueueName.poll, qopts),
    version: new Queue(QueueName.version, qopts),
    rollout: new Queue(QueueName.rollout, qopts),
    notify: new Queue(QueueName.notify, qopts),
  };
  const redisErrors = createRedisErrorLog(deps.logger);
  redisErrors.watchRecovery(deps.connection);
  for (const [name, q] of Object.entries(queues)) redisErrors.watch(q, { queue: name });
  const ownFetcher = opts.fetcher ? undefined : new DescriptorFetcher(opts.fetchPolicy);
  const fetcher = opts.fetcher ?? ownFetcher!;
  const pollLimiter = createLimiter(settings.pollConcurrency);
  const storeConnection = duplicateConnection(deps.connection, {
    enableAutoPipelining: true,
    ...(isCluster(deps.connection) ? { autoPipeliningIgnoredCommands: [...VARIADIC_KEY_SCRIPTS] } : {}),
  });
  redisErrors.watch(storeConnection, { connection: 'stores' });
  redisErrors.watchRecovery(storeConnection);
  const installs = new InstallationStore(deps.connection, keys);
  const rollouts = new RolloutStore(deps.connection, keys);
  const notices = new ApprovalNoticeStore(deps.connection, keys);
  const versions = new VersionStore(storeConnection, keys);
  const bulkUpgrades = new BulkUpgradeStore(deps.connection, keys);
  const metrics = createMetrics({
    async queueDepths() {
      const out: Record<string, Record<string, number>> = {};
      for (const q of Object.values(queues)) {
        out[q.name] = await q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized');
      }
      return out;
    },
    fetchesInFlight: () => pollLimiter.inUse(),
    rollouts,
    installs,
    versions,
    bulkUpgrades,
  });
  return {
    ...deps,
    queuePrefix,
    ...createJobDispatcher(queues, deps.clock, settings),
    keys,
    settings,
    queues,
    fetcher,
    pollLimiter,
    apps: new AppStore(storeConnection, keys),
    versions,
    descriptors: new DescriptorStore(storeConnection, keys),
    // The scheduler's reads and writes stay off the pipelined connection, whose queue fills with
    // the polls of the chunks already running while a tick enqueues the next ones.
    schedule: new PollScheduleStore(deps.connection, keys),
    installs,
    rollouts,
    notices,
    bulkUpgrades,
    sites: new SiteStore(deps.connection, keys),
    sharing: new SharingStore(deps.connection, keys),
    installLinks: opts.installLinks,
    remover: new AppRemover(deps.connection, keys),
    policy: opts.versioningPolicy,
    rolloutPolicy,
    notifier: opts.notifier ?? new LogNotifier(deps.logger),
    approvalLinks: opts.approvalLinks,
    metrics,
    redisErrors,
    events: new LifecycleEvents(),
    audit: new AuditStore(deps.connection, keys, opts.auditMaxLen),
    async close() {
      await Promise.all(Object.values(queues).map((q) => q.close()));
      await ownFetcher?.close();
      await storeConnection.quit().catch(() => storeConnection.disconnect());
    },
  };
}
