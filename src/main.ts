/**
 * Composition root (STYLE.md): the only place that reads `process.env`, creates the Redis
 * connection and builds the process's one context (src/runtime.ts `createAppContext`), then
 * hands it to workers, scheduler and HTTP API (`mpu daemon`), to CLI commands (`openContext`)
 * and to the demo.
 */
import { checkHttpConfig, loadConfig, type Config } from './config/config.js';
import { ScaledClock, systemClock, type Clock } from './lib/clock.js';
import { AppError, ErrorCode } from './lib/errors.js';
import { createLogger, type Logger } from './lib/logger.js';
import { buildApp } from './http/build-app.js';
import { createAppContext, type AppContextOptions, type Runtime } from './runtime.js';
import type { Closable } from './lib/closable.js';
import type { Settings } from './app/settings.js';
import { startWorkers } from './workers/start-workers.js';
import { startScheduler } from './workers/scheduler.js';
import { scheduleReconcile } from './workers/rollout.worker.js';
import { WebhookNotifier } from './notify/notifiers.js';
import { createApprovalLinks } from './app/rollout/approval-links.js';
import { deriveInstallLinkSecret } from './lib/install-link.js';
import { AuditStore } from './store/audit-store.js';
import { createKeys } from './store/keys.js';
import { migrateStore } from './store/migrate.js';
import { describeTarget, openRedis, type RedisConnection, type RedisTarget } from './lib/redis-connection.js';

/** Reads the configuration from `process.env`. @throws AppError config-invalid */
export function configFromEnv(env: Record<string, string | undefined> = process.env): Config {
  return loadConfig(env);
}

/**
 * Connects to Redis (one server, or a cluster: `target`, see config `redis`) and pings it.
 * `failFast` (CLI): no reconnection attempts, so an absent server is an immediate, clear error;
 * the daemon keeps ioredis' reconnection after the first ping. A cluster connection is ready
 * once it has read the slot map from a node.
 * @throws AppError store-unavailable saying how to start a Redis.
 */
export async function connectRedis(
  target: RedisTarget | string,
  opts: { failFast?: boolean } = {},
): Promise<RedisConnection> {
  const where: RedisTarget = typeof target === 'string' ? { url: target } : target;
  const redis = openRedis(where, opts);
  redis.on('error', () => {}); // reported through the failing command / ping below
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    const hint =
      'url' in where
        ? `start one with 'docker compose up -d redis' (or 'redis-server --daemonize yes'), or set REDIS_URL`
        : `start it (test/cluster/start-cluster.sh starts a local one), or fix REDIS_CLUSTER_NODES`;
    throw new AppError(
      ErrorCode.STORE_UNAVAILABLE,
      `no Redis answers at ${describeTarget(where)}: ${hint} (${String(err instanceof Error ? err.message : err)})`,
      {
        retryable: true,
        details: 'url' in where ? { redisUrl: where.url } : { redisClusterNodes: describeTarget(where) },
      },
    );
  }
  return redis;
}

/** The context options the configuration gives (settings, fetch policy, notifier, approval links). */
function contextOptions(config: Config, overrides: { settings?: Partial<Settings> } = {}): AppContextOptions {
  return {
    settings: { ...pickSettings(config), ...overrides.settings },
    rolloutPolicy: { adoptionWindowMs: config.adoptionWindowMs, forgeSpreadMs: config.forgeSpreadMs },
    auditMaxLen: config.auditMaxLen,
    fetchPolicy: { ...config.fetch },
    notifier: config.notifyWebhookUrl ? new WebhookNotifier({ url: config.notifyWebhookUrl }) : undefined,
    approvalLinks: config.approvalSecret
      ? createApprovalLinks({
          secret: config.approvalSecret,
          baseUrl: config.publicUrl,
          ttlMs: config.approvalLinkTtlMs,
        })
      : undefined,
    installLinks: config.approvalSecret
      ? { secret: deriveInstallLinkSecret(config.approvalSecret), baseUrl: config.publicUrl }
      : undefined,
  };
}

/** The audit trail of `config`'s prefix on `connection` (XADD MAXLEN ~ `config.auditMaxLen`). */
export function openAuditStore(connection: RedisConnection, config: Config): AuditStore {
  return new AuditStore(connection, createKeys(config.prefix), config.auditMaxLen);
}

/** The settings the configuration sets (the others keep their defaults). */
function pickSettings(config: Config): Partial<Settings> {
  const { pollIntervalMs, pollConcurrency, pollBatchSize, pollAttempts, pollBackoffMs, versionConcurrency } = config;
  const { approvalReminderIntervalMs, reconcileIntervalMs, reconcileGraceMs } = config;
  const { bulkUpgradeLimit, bulkUpgradeRetentionMs, errorBudgetCount, errorBudgetRatio, phasedPauseCapMs } = config;
  const { stalledIntervalMs, timeScale } = config;
  return {
    lockDurationMs: config.jobLockMs,
    stalledIntervalMs,
    timeScale,
    pollIntervalMs,
    pollConcurrency,
    pollBatchSize,
    pollAttempts,
    pollBackoffMs,
    versionConcurrency,
    bulkUpgradeLimit,
    bulkUpgradeRetentionMs,
    approvalReminderIntervalMs,
    reconcileIntervalMs,
    reconcileGraceMs,
    errorBudgetCount,
    errorBudgetRatio,
    phasedPauseCapMs,
  };
}

/** Context for one-shot CLI commands. `close()` closes queues and the connection. */
export async function openContext(
  env: Record<string, string | undefined> = process.env,
  opts: { logger?: Logger; clock?: Clock } = {},
): Promise<{ ctx: Runtime; config: Config; audit: AuditStore; close(): Promise<void> }> {
  const config = configFromEnv(env);
  const connection = await connectRedis(config.redis, { failFast: true });
  const logger = opts.logger ?? createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel });
  // A store in an older key layout is migrated before any command reads it (one GET otherwise).
  await migrateStore(connection, createKeys(config.prefix), logger).catch((err: unknown) => {
    connection.disconnect();
    throw err;
  });
  const ctx = createAppContext(
    { connection, clock: opts.clock ?? systemClock, logger, prefix: config.prefix, queuePrefix: config.queuePrefix },
    contextOptions(config),
  );
  return {
    ctx,
    config,
    audit: openAuditStore(connection, config),
    async close() {
      await ctx.close();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}

/**
 * The daemon's clock: real time, or with MPU_TIME_SCALE a scaled clock that reads real time at
 * MPU_TIME_EPOCH (else at start) and runs `timeScale` times faster, the same in every daemon
 * given the same epoch.
 */
export function configClock(config: Pick<Config, 'timeScale' | 'timeEpoch'>, real: Clock = systemClock): Clock {
  if (config.timeScale === 1) return real;
  const now = real.now();
  const epoch = config.timeEpoch ?? now;
  return new ScaledClock(epoch + Math.floor((now - epoch) * config.timeScale), config.timeScale, real);
}

/** Which parts of the daemon run in this process. */
export interface DaemonParts {
  scheduler: boolean;
  http: boolean;
  workers: boolean;
}

/** A running daemon. */
export interface RunningDaemon extends Closable {
  ctx: Runtime;
  /** `http://host:port` when the HTTP API listens. */
  url?: string;
}

/**
 * Starts the chosen parts on one connection. Workers include the rollout workers
 * (`startRolloutWorkers`), so one `mpu daemon` runs the whole pipeline.
 * @throws AppError config-invalid (HTTP without MPU_WEBHOOK_SECRET or MPU_OPERATOR_TOKENS, all
 *   reported together), store-unavailable.
 */
export async function startDaemon(
  config: Config,
  parts: DaemonParts,
  opts: {
    clock?: Clock;
    logger?: Logger;
    connection?: RedisConnection;
    /** Clock for deploy-event signature freshness, when `clock` is not real time (the demo). */
    transportClock?: Clock;
    /** Settings beyond the configuration's, such as `timeScale` for a scaled clock (the demo). */
    settings?: Partial<Settings>;
  } = {},
): Promise<RunningDaemon> {
  if (parts.http) checkHttpConfig(config);
  const logger = opts.logger ?? createLogger({ level: config.logLevel });
  if (parts.workers && !config.approvalSecret)
    logger.warn(
      'daemon: no MPU_APPROVAL_SECRET or MPU_WEBHOOK_SECRET: "update available" notices carry no approval links',
    );
  const connection = opts.connection ?? (await connectRedis(config.redis));
  // A store in an older key layout is migrated before any worker, schedule or route touches it.
  await migrateStore(connection, createKeys(config.prefix), logger);
  const deps = {
    connection,
    clock: opts.clock ?? configClock(config),
    logger,
    prefix: config.prefix,
    queuePrefix: config.queuePrefix,
  };
  const ctx = createAppContext(deps, contextOptions(config, { settings: opts.settings }));
  const parts_: Closable[] = [];
  let url: string | undefined;
  try {
    if (parts.workers) {
      parts_.push(await startWorkers(ctx));
      await scheduleReconcile(ctx);
    }
    if (parts.scheduler) parts_.push(startScheduler(ctx, config.schedulerCron));
    if (parts.http) {
      const app = await buildApp({
        ctx,
        webhookSecret: config.webhookSecret!,
        operatorTokens: config.operatorTokens,
        viewerTokens: config.viewerTokens,
        approvalSecret: config.approvalSecret,
        audit: openAuditStore(connection, config),
        rateLimits: config.rateLimit,
        webhookBodyLimit: config.webhookBodyLimit,
        // Deploy-event signatures are fresh in real time, whatever the pipeline's clock.
        transportClock: opts.transportClock ?? (config.timeScale === 1 ? undefined : systemClock),
      });
      url = await app.listen({ host: config.host, port: config.port });
      parts_.push({ close: () => app.close() });
    }
  } catch (err) {
    await Promise.allSettled(parts_.reverse().map((p) => p.close()));
    throw err;
  }
  logger.info({ parts, url, prefix: config.prefix, pollIntervalMs: config.pollIntervalMs }, 'daemon:started');
  return {
    ctx,
    url,
    async close() {
      // Stop intake first (HTTP, scheduler), then let workers finish their in-flight jobs.
      for (const p of parts_.reverse())
        await p.close().catch((err: unknown) => logger.error({ err }, 'daemon:close failed'));
      await ctx.close();
      if (!opts.connection) await connection.quit().catch(() => connection.disconnect());
      logger.info('daemon:stopped');
    },
  };
}

/** `mpu daemon`: starts from `process.env` and stops gracefully on SIGTERM/SIGINT. */
export async function runDaemon(parts: DaemonParts): Promise<void> {
  const config = configFromEnv();
  const daemon = await startDaemon(config, parts);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      daemon.ctx.logger.info({ signal }, 'daemon:stopping');
      daemon.close().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
