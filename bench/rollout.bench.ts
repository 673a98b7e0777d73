/**
 * Rollout benchmark: one Forge app with 1,000,000 installations and an automatic minor
 * version: time from publication (plan job enqueued) to every installation upgraded, upgrades/s
 * and peak RSS of this process (planner + workers run here); then, in the same run, a baseline of
 * one BullMQ job per installation on 100,000 installations, and the ratio of the rates.
 * Targets on the 2-core machine: 1M ≤ 60 s, ≥ 10× the baseline rate, peak RSS ≤ 500 MB.
 *
 * Set-up that is not timed: the populations are generated and stored first. The Forge spread is
 * set to 0 and the population has no maintenance windows, so the figure is throughput (with the
 * default 5-minute spread the same rollout takes 5 minutes by design; windows defer up to 4 h).
 * Env: REDIS_URL, BENCH_ROLLOUT_N (default 1,000,000), BENCH_BASELINE_N (default 100,000).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Worker, type Job } from 'bullmq';
import { VersionLadder, decideTarget } from '../src/rollout/version-ladder.js';
import { toPlannedVersion } from '../src/app/rollout/ladder.js';
import { generatePopulation } from '../src/app/rollout/installations.js';
import {
  BenchVersions,
  cleanup,
  createBenchContext,
  fmt,
  mb,
  seconds,
  timeAutomaticRollout,
  waitUntil,
  type BenchEnv,
} from './rollout-common.js';

export async function run(): Promise<void> {
  const N = Number(process.env.BENCH_ROLLOUT_N ?? 1_000_000);
  const BASE_N = Number(process.env.BENCH_BASELINE_N ?? 100_000);
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const prefix = `bench-${randomUUID()}`;
  const env: BenchEnv = { redis, prefix, versions: new BenchVersions() };
  const { versions } = env;
  try {
    // ── set-up (not timed) ───────────────────────────────────────────────────────────────────
    const setup = createBenchContext(env);
    versions.add('bench-forge', '2.0.0', 'initial', Date.now() - 86_400_000);
    versions.add('bench-baseline', '2.0.0', 'initial', Date.now() - 86_400_000);
    let t = Date.now();
    await generatePopulation(setup, {
      appId: 'bench-forge',
      count: N,
      seed: 1,
      version: '2.0.0',
      maintenanceWindows: false,
    });
    await generatePopulation(setup, {
      appId: 'bench-baseline',
      count: BASE_N,
      seed: 2,
      version: '2.0.0',
      maintenanceWindows: false,
    });
    console.log(`set-up: ${fmt(N)} + ${fmt(BASE_N)} installations stored in ${seconds(Date.now() - t)}`);
    await setup.close();

    // ── batched rollout ──────────────────────────────────────────────────────────────────────
    const auto = await timeAutomaticRollout(env, 'bench-forge', '2.1.0', N);
    const { elapsedMs: elapsed, rate } = auto;
    const rss = process.resourceUsage().maxRSS;
    const planS = auto.planMs === null ? '?' : seconds(auto.planMs);
    console.log(
      `batched rollout: ${fmt(N)} installations upgraded in ${seconds(elapsed)} (publication → all upgraded; planning ${planS}, ${auto.batches} batch jobs)`,
    );
    console.log(`  ${fmt(rate)} upgrades/s, peak RSS ${mb(rss)}`);

    // ── baseline: one BullMQ job per installation ────────────────────────────────────────────
    const ctx = createBenchContext(env);
    versions.add('bench-baseline', '2.1.0', 'minor', Date.now());
    const ladder = new VersionLadder((await versions.listVersions('bench-baseline')).map(toPlannedVersion));
    const queue = ctx.queues.rollout;
    const worker = new Worker(
      queue.name,
      async (j: Job<{ id: string }>) => {
        const { versions: cur, approved } = await ctx.installs.readStates('bench-baseline', [j.data.id]);
        const d = decideTarget(ladder, cur[0]!, approved[0] ?? null, Date.now());
        if (d.target)
          await ctx.installs.compareAndSetVersions(
            'bench-baseline',
            [{ id: j.data.id, expected: cur[0]!, target: d.target, cause: 'automatic' }],
            Date.now(),
          );
      },
      { connection: redis, prefix, concurrency: 50 },
    );
    t = Date.now();
    for (let off = 0; off < BASE_N; off += 5000) {
      const ids = await redis.lrange(ctx.keys.installationIds('bench-baseline'), off, off + 4999);
      await queue.addBulk(
        ids.map((id) => ({ name: 'upgrade-one', data: { id }, opts: { jobId: `one__${id}`, removeOnComplete: true } })),
      );
    }
    const baseKey = ctx.keys.versionDistribution('bench-baseline');
    await waitUntil(async () => Number(await redis.hget(baseKey, '2.1.0')) >= BASE_N, 600_000);
    const baseElapsed = Date.now() - t;
    const baseRate = BASE_N / (baseElapsed / 1000);
    await worker.close();
    await queue.obliterate({ force: true });
    await ctx.close();
    console.log(
      `baseline (one BullMQ job per installation, concurrency 50): ${fmt(BASE_N)} in ${(baseElapsed / 1000).toFixed(1)} s, ${fmt(baseRate)} upgrades/s`,
    );
    console.log(`ratio: batched ${(rate / baseRate).toFixed(1)}× the per-installation rate`);
    console.log(
      `targets: 1M ≤ 60 s ${elapsed <= 60_000 ? 'MET' : 'MISSED'}, ≥ 10× baseline ${rate / baseRate >= 10 ? 'MET' : 'MISSED'}, peak RSS ≤ 500 MB ${rss / 1024 <= 500 ? 'MET' : 'MISSED'}`,
    );
  } finally {
    await cleanup(redis, prefix);
    await redis.quit();
  }
}
