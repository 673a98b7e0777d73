/**
 * The poll scheduler: node-cron runs a tick on its pattern (and once at start); each tick enqueues
 * the polls that are due (src/app/detection/schedule-polls.ts). Ticks never overlap in a process;
 * daemons may tick at once (the use case is safe for that).
 */
import cron from 'node-cron';
import { enqueueDuePolls, type TickResult } from '../app/detection/schedule-polls.js';
import type { Closable } from '../lib/closable.js';
import type { WorkerContext } from './worker-context.js';

export type { TickResult };

/** One tick at `ctx.clock.now()` (tests and the demo call it directly). */
export function schedulerTick(ctx: WorkerContext): Promise<TickResult> {
  return enqueueDuePolls(ctx);
}

/** Runs `schedulerTick` on the node-cron `pattern` (and once at start). */
export function startScheduler(ctx: WorkerContext, pattern: string): Closable {
  const run = () => schedulerTick(ctx).catch((err: unknown) => ctx.logger.error({ err }, 'scheduler:tick failed'));
  const task = cron.schedule(pattern, run, { name: 'mpu-poll-scheduler', noOverlap: true });
  void run();
  return {
    async close() {
      await task.destroy();
    },
  };
}
