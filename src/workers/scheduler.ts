/**
 * The poll scheduler: each tick (node-cron in the daemon, called directly in tests) enqueues the
 * polls of every Connect app whose slot is due, in chunks of `pollBatchSize` apps per job, and
 * moves the apps to their next slot. Chunk job ids name their apps and slots, so two daemons
 * ticking at once enqueue each chunk once; should their chunks differ, each app's slot is claimed
 * on its record when polled (AppStore.claimPolls), so it is still polled once.
 */
import cron from 'node-cron';
import { pollSlot } from '../poller/poll-schedule.js';
import { POLL_BATCH_JOB_NAME, pollBatchJobId, type PollBatchJob } from '../jobs/queues.js';
import type { Closable } from '../lib/closable.js';
import type { WorkerContext } from './worker-context.js';

/** What one tick did. */
export interface TickResult {
  /** Apps found due. */
  due: number;
}

const BATCH = 1_000;

/** Enqueues the polls due at `ctx.clock.now()`. Safe to run concurrently in several daemons. */
export async function schedulerTick(ctx: WorkerContext): Promise<TickResult> {
  const now = ctx.clock.now();
  let total = 0;
  for (;;) {
    const due = await ctx.schedule.due(now, BATCH);
    if (due.length === 0) break;
    total += due.length;
    const slots = due.map((appId) => ({ appId, slot: pollSlot(appId, now, ctx.settings.pollIntervalMs) }));
    // One job per chunk of apps (queues.ts PollBatchJob): each app's slot is claimed when polled.
    const jobs = [];
    for (let i = 0; i < slots.length; i += ctx.settings.pollBatchSize) {
      const data: PollBatchJob = { v: 1, polls: slots.slice(i, i + ctx.settings.pollBatchSize).map(({ appId, slot }) => ({ appId, slot: slot.slot })) };
      jobs.push({ name: POLL_BATCH_JOB_NAME, data, opts: { ...ctx.pollBatchJobOptions(), jobId: pollBatchJobId(data) } });
    }
    await ctx.queues.poll.addBulk(jobs);
    // GT: a slower daemon's tick never moves an app back to a slot already enqueued. XX: an app
    // removed since it was read (`mpu apps remove`) is not put back. One ZADD for the whole page
    // (ZADD XX GT applies to each member on its own).
    const args: (string | number)[] = [];
    for (const { appId, slot } of slots) args.push(slot.nextDueAt, appId);
    await ctx.connection.zadd(ctx.keys.pollSchedule(), 'XX', 'GT', ...args);
    if (due.length < BATCH) break;
  }
  if (total) ctx.logger.info({ due: total }, 'scheduler:enqueued');
  return { due: total };
}

/** Runs `schedulerTick` on the node-cron `pattern` (and once at start). */
export function startScheduler(ctx: WorkerContext, pattern: string): Closable {
  const run = () =>
    schedulerTick(ctx).catch((err: unknown) => ctx.logger.error({ err }, 'scheduler:tick failed'));
  const task = cron.schedule(pattern, run, { name: 'mpu-poll-scheduler', noOverlap: true });
  void run();
  return {
    async close() {
      await task.destroy();
    },
  };
}
