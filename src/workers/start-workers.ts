/**
 * Starts the daemon's BullMQ workers on one context: detection (poll, versioning) and rollout
 * (plans, upgrade batches, late installations; admin notifications). `close()` lets in-flight
 * jobs finish (BullMQ `worker.close()`), so a SIGTERM hands nothing back half done.
 */
import { Worker } from 'bullmq';
import type { Closable } from '../lib/closable.js';
import { QueueName } from '../jobs/queues.js';
import { createPollWorker } from './poll.worker.js';
import { notifyProcessor, rolloutProcessor } from './rollout.worker.js';
import { createVersionWorker } from './version.worker.js';
import type { WorkerContext } from './worker-context.js';

/** The started workers, for tests that await their events. */
export interface DetectionWorkers extends Closable {
  poll: Worker;
  version: Worker;
}

/** The started rollout workers. */
export interface RolloutWorkers extends Closable {
  rollout: Worker;
  notify: Worker;
}

/** Logs a worker's failed jobs and errors, naming the queue, the job and its app. */
function logWorker(ctx: WorkerContext, w: Worker): void {
  w.on('failed', (job, err) => {
    const appId = (job?.data as { appId?: string } | undefined)?.appId;
    ctx.logger.warn(
      { event: 'job:failed', queue: w.name, jobId: job?.id, name: job?.name, appId, err: err.message },
      'job failed',
    );
  });
  // A worker's two connections error on every reconnect attempt during an outage: one log for all.
  w.on('error', (err) => ctx.redisErrors.report(err, { event: 'worker:error', queue: w.name }, 'worker error'));
}

/** Starts the poll and versioning workers. */
export async function startDetectionWorkers(ctx: WorkerContext): Promise<DetectionWorkers> {
  const poll = createPollWorker(ctx);
  const version = createVersionWorker(ctx);
  for (const w of [poll, version]) logWorker(ctx, w);
  await Promise.all([poll.waitUntilReady(), version.waitUntilReady()]);
  return {
    poll,
    version,
    async close() {
      await Promise.all([poll.close(), version.close()]);
    },
  };
}

/** Starts the rollout and notify workers. */
export async function startRolloutWorkers(ctx: WorkerContext): Promise<RolloutWorkers> {
  const s = ctx.settings;
  const opts = {
    connection: ctx.connection,
    prefix: ctx.queuePrefix,
    lockDuration: s.lockDurationMs,
    stalledInterval: s.stalledIntervalMs,
    // A batch redelivered after its worker died is harmless (compare-and-set), so let it retry.
    maxStalledCount: 10,
  };
  const limiter = s.maxBatchesPerSecond > 0 ? { limiter: { max: s.maxBatchesPerSecond, duration: 1000 } } : {};
  const rollout = new Worker(QueueName.rollout, rolloutProcessor(ctx), {
    ...opts,
    ...limiter,
    concurrency: s.upgradeConcurrency,
  });
  const notify = new Worker(QueueName.notify, notifyProcessor(ctx), { ...opts, concurrency: s.notifyConcurrency });
  for (const w of [rollout, notify]) logWorker(ctx, w);
  await Promise.all([rollout.waitUntilReady(), notify.waitUntilReady()]);
  return {
    rollout,
    notify,
    async close() {
      await Promise.all([rollout.close(), notify.close()]);
    },
  };
}

/** Every worker of the daemon. */
export interface AllWorkers extends Closable {
  detection: DetectionWorkers;
  rollout: RolloutWorkers;
}

/** Starts every worker (`mpu daemon`). */
export async function startWorkers(ctx: WorkerContext): Promise<AllWorkers> {
  const detection = await startDetectionWorkers(ctx);
  const rollout = await startRolloutWorkers(ctx).catch(async (err: unknown) => {
    await detection.close();
    throw err;
  });
  return {
    detection,
    rollout,
    async close() {
      await Promise.all([detection.close(), rollout.close()]);
    },
  };
}
