/**
 * Starts the rollout side of the daemon (issue 4): the `rollout` worker (plans and upgrade
 * batches) and the `notify` worker (admin notifications). Called by `mpu daemon` as
 * `startRolloutWorkers(deps)`; the daemon's context also carries `versions` and `metrics`, which
 * are used when present (see `RolloutDeps`).
 */
import { Worker } from 'bullmq';
import type { Closable } from './runtime.js';
import { QueueName } from '../jobs/queues.js';
import { createRolloutContext, type RolloutContext, type RolloutDeps } from './rollout-context.js';
import { rolloutProcessor } from './rollout.worker.js';
import { notifyProcessor } from './notify.worker.js';

/** A started rollout side; `ctx` is exposed for tests and the demo. */
export interface RolloutWorkers extends Closable {
  ctx: RolloutContext;
  workers: { rollout: Worker; notify: Worker };
}

/** Starts both workers. `close()` lets in-flight batches finish, then closes queues. */
export async function startRolloutWorkers(deps: RolloutDeps): Promise<RolloutWorkers> {
  const ctx = createRolloutContext(deps);
  const opts = {
    connection: deps.connection,
    prefix: deps.prefix,
    lockDuration: ctx.settings.lockDurationMs,
    stalledInterval: ctx.settings.stalledIntervalMs,
    // a batch redelivered after its worker died is harmless (compare-and-set), so let it retry
    maxStalledCount: 10,
  };
  const limiter = ctx.settings.maxBatchesPerSecond > 0 ? { limiter: { max: ctx.settings.maxBatchesPerSecond, duration: 1000 } } : {};
  const rollout = new Worker(QueueName.rollout, rolloutProcessor(ctx), { ...opts, ...limiter, concurrency: ctx.settings.upgradeConcurrency });
  const notify = new Worker(QueueName.notify, notifyProcessor(ctx), { ...opts, concurrency: ctx.settings.notifyConcurrency });
  for (const w of [rollout, notify]) {
    w.on('failed', (job, err) => ctx.logger.warn({ event: 'rollout:job:failed', queue: w.name, jobId: job?.id, name: job?.name, err }, 'rollout job failed'));
    w.on('error', (err) => ctx.logger.error({ event: 'rollout:worker:error', queue: w.name, err }, 'rollout worker error'));
  }
  await Promise.all([rollout.waitUntilReady(), notify.waitUntilReady()]);
  return {
    ctx,
    workers: { rollout, notify },
    async close() {
      await Promise.all([rollout.close(), notify.close()]);
      await ctx.close();
    },
  };
}
