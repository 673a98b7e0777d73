/**
 * Test harness for the rollout side on a real Redis, shared by the rollout suites: a fresh prefix
 * (keys and queue names), a ManualClock, the process's context with an in-memory version reader
 * we own (`MemoryVersions`) and a notifier that records, the rollout workers (optional), and the
 * helpers those suites need: plan a version, move the clock, read histories, clean up.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Notifier, RolloutNotice, UpdateAvailableNotice } from '../../src/app/rollout/notifier.js';
import type { Settings } from '../../src/app/settings.js';
import type { Runtime } from '../../src/runtime.js';
import { PLAN_ROLLOUT_JOB_NAME, planRolloutJobId, type PlanRolloutJob } from '../../src/jobs/queues.js';
import { HOUR, ManualClock, type Clock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import type { RolloutPolicy } from '../../src/rollout/types.js';
import type { HistoryEntry } from '../../src/store/installation-store.js';
import type { VersionReader } from '../../src/store/types.js';
import { startRolloutWorkers, type RolloutWorkers } from '../../src/workers/start-workers.js';
import { MemoryVersions, drain, promoteAndDrain } from '../rollout/helpers.js';
import { createTestContext } from './context.js';
import { connectTestRedis, deleteKeysWithPrefix, testPrefix } from './redis.js';

/** A Monday, 00:00 UTC: the rollout suites' start time. */
export const ROLLOUT_T0 = Date.parse('2025-03-03T00:00:00Z');

export interface RolloutHarnessOptions<C extends Clock = ManualClock> {
  settings?: Partial<Settings>;
  rolloutPolicy?: Partial<RolloutPolicy>;
  /** @defaultValue a ManualClock at `ROLLOUT_T0` */
  clock?: C;
  /** Whether to start the rollout and notify workers. @defaultValue true */
  workers?: boolean;
  /**
   * What the rollout reads versions from. @defaultValue a fresh `MemoryVersions` (the harness's
   * `versions`); another reader (a detection harness's Redis store) replaces it.
   */
  versions?: VersionReader;
  /**
   * Runs on another harness's connection and prefix (a detection harness, which owns them,
   * obliterates the queues and deletes the keys): `close()` then closes only what it started.
   */
  share?: { connection: Redis; prefix: string };
}

export interface RolloutHarness<C extends Clock = ManualClock> {
  ctx: Runtime;
  clock: C;
  connection: Redis;
  prefix: string;
  /** The versions the rollout reads (unless `versions` was another reader): add records here. */
  versions: MemoryVersions;
  /** Every "update available" notice delivered, in order. */
  notices: UpdateAvailableNotice[];
  /** Every rollout notice (paused by its error budget, resumed at a pause cap) delivered, in order. */
  rolloutNotices: RolloutNotice[];
  workers?: RolloutWorkers;
  /** The context's four queues. */
  queues(): Queue[];
  /**
   * Enqueues the plan job of `appId@version` as the versioning step does, and waits for its
   * `rollout:planned` event, then for the batches due at once to run.
   * @throws Error naming the event when the plan does not finish (a failed plan job)
   */
  plan(appId: string, version: string): Promise<void>;
  /**
   * Enqueues the plan job of a version planned already, as a redelivered wake-up would: BullMQ
   * keeps the completed job (same id), so nothing runs and no event comes; waits for the queues
   * to be idle instead.
   */
  replan(appId: string, version: string): Promise<void>;
  /** Moves the ManualClock forward by `ms` in steps of `step`, promoting delayed jobs each step. */
  runFor(ms: number, step?: number): Promise<void>;
  /** Every installation's history of `appId`, by installation id. */
  histories(appId: string): Promise<Map<string, HistoryEntry[]>>;
  /** Stops the workers; unless shared: empties the queues, deletes the prefix's keys, disconnects. */
  close(): Promise<void>;
}

export async function createRolloutHarness<C extends Clock = ManualClock>(
  opts: RolloutHarnessOptions<C> = {},
): Promise<RolloutHarness<C>> {
  const connection = opts.share?.connection ?? (await connectTestRedis());
  const prefix = opts.share?.prefix ?? testPrefix();
  const clock = opts.clock ?? (new ManualClock(ROLLOUT_T0) as Clock as C);
  const versions = opts.versions instanceof MemoryVersions ? opts.versions : new MemoryVersions();
  const notices: UpdateAvailableNotice[] = [];
  const rolloutNotices: RolloutNotice[] = [];
  const notifier: Notifier = {
    notify: async (n) => void notices.push(n),
    rolloutNotice: async (n) => void rolloutNotices.push(n),
  };
  const ctx = createTestContext({
    connection,
    clock,
    logger: silentLogger,
    prefix,
    versions: opts.versions ?? versions,
    notifier,
    settings: opts.settings,
    rolloutPolicy: opts.rolloutPolicy,
  });
  const workers = opts.workers === false ? undefined : await startRolloutWorkers(ctx);
  const queues = () => Object.values(ctx.queues);
  const planJob = async (appId: string, version: string) => {
    const data: PlanRolloutJob = { v: 1, appId, version };
    await ctx.queues.rollout.add(PLAN_ROLLOUT_JOB_NAME, data, { jobId: planRolloutJobId(data) });
  };
  return {
    ctx,
    clock,
    connection,
    prefix,
    versions,
    notices,
    rolloutNotices,
    workers,
    queues,
    async plan(appId, version) {
      if (!workers) throw new Error('plan() needs the rollout workers (workers: true)');
      const planned = ctx.events.next('rollout:planned', (e) => e.appId === appId && e.version === version, 20_000);
      await planJob(appId, version);
      await planned;
      // No event says "every batch due now has run" (how many are due is the plan's business).
      await drain(queues());
    },
    async replan(appId, version) {
      await planJob(appId, version);
      await drain(queues());
    },
    async runFor(ms, step = HOUR) {
      if (!(clock instanceof ManualClock)) throw new Error('runFor() moves a ManualClock');
      for (let t = 0; t < ms; t += step) {
        clock.advance(Math.min(step, ms - t));
        await promoteAndDrain(queues());
      }
    },
    async histories(appId) {
      const m = new Map<string, HistoryEntry[]>();
      for await (const [id, h] of ctx.installs.scanHistory(appId)) m.set(id, h);
      return m;
    },
    async close() {
      await workers?.close();
      // A shared prefix's queues and keys are the owner's to clean (its close() obliterates them).
      if (!opts.share) for (const q of queues()) await q.obliterate({ force: true }).catch(() => {});
      await ctx.close();
      if (opts.share) return;
      await deleteKeysWithPrefix(connection, prefix);
      await connection.quit();
    },
  };
}
