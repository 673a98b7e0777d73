/**
 * The poll scheduler: each tick (node-cron in the daemon, called directly in tests) enqueues a
 * poll for every Connect app whose slot is due and moves the app to its next slot. Job ids name
 * the slot, so two daemons ticking at once enqueue each poll once.
 */
import cron from 'node-cron';
import { pollSlot } from '../poller/poll-schedule.js';
import { POLL_JOB_NAME, pollJobId, type PollJob } from './queues.js';
import type { DaemonContext } from './daemon-context.js';
import type { Closable } from './runtime.js';

/** What one tick did. */
export interface TickResult {
  /** Apps found due. */
  due: number;
}

const BATCH = 1_000;

/** Enqueues the polls due at `ctx.clock.now()`. Safe to run concurrently in several daemons. */
export async function schedulerTick(ctx: DaemonContext): Promise<TickResult> {
  const now = ctx.clock.now();
  let total = 0;
  for (;;) {
    const due = await ctx.schedule.due(now, BATCH);
    if (due.length === 0) break;
    total += due.length;
    const slots = due.map((appId) => ({ appId, slot: pollSlot(appId, now, ctx.settings.pollIntervalMs) }));
    await ctx.queues.poll.addBulk(
      slots.map(({ appId, slot }) => {
        const data: PollJob = { v: 1, appId, slot: slot.slot };
        return {
          name: POLL_JOB_NAME,
          data,
          opts: {
            jobId: pollJobId(data),
            attempts: ctx.settings.pollAttempts,
            backoff: { type: 'exponential', delay: ctx.settings.pollBackoffMs },
            removeOnComplete: { age: Math.ceil(ctx.settings.pollIntervalMs / 1000), count: 100_000 },
            removeOnFail: { age: 7 * 86_400 },
          },
        };
      }),
    );
    const pipe = ctx.connection.pipeline();
    // GT: a slower daemon's tick never moves an app back to a slot already enqueued.
    for (const { appId, slot } of slots) pipe.zadd(ctx.keys.pollSchedule(), 'GT', slot.nextDueAt, appId);
    await pipe.exec();
    if (due.length < BATCH) break;
  }
  if (total) ctx.logger.info({ due: total }, 'scheduler:enqueued');
  return { due: total };
}

/** Runs `schedulerTick` on the node-cron `pattern` (and once at start). */
export function startScheduler(ctx: DaemonContext, pattern: string): Closable {
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
