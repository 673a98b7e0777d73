/**
 * Starts the detection side's workers (poll, versioning) on a shared context. `close()` lets
 * in-flight jobs finish (BullMQ `worker.close()`), so a SIGTERM hands nothing back half done.
 */
import type { Worker } from 'bullmq';
import type { DaemonContext } from './daemon-context.js';
import { createPollWorker } from './poll.worker.js';
import { createVersionWorker } from './version.worker.js';
import type { Closable } from './runtime.js';

/** The started workers, for tests that await their events. */
export interface DetectionWorkers extends Closable {
  poll: Worker;
  version: Worker;
}

export async function startDetectionWorkers(ctx: DaemonContext): Promise<DetectionWorkers> {
  const poll = createPollWorker(ctx);
  const version = createVersionWorker(ctx);
  for (const w of [poll, version]) {
    w.on('failed', (job, err) =>
      ctx.logger.warn({ queue: w.name, jobId: job?.id, appId: (job?.data as { appId?: string } | undefined)?.appId, err: err.message }, 'job:failed'),
    );
    w.on('error', (err) => ctx.logger.error({ queue: w.name, err }, 'worker:error'));
  }
  await Promise.all([poll.waitUntilReady(), version.waitUntilReady()]);
  return {
    poll,
    version,
    async close() {
      await Promise.all([poll.close(), version.close()]);
    },
  };
}
