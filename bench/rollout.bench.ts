/**
 * Rollout benchmark: one Forge app with 1,000,000 installations and an automatic minor
 * version: time from publication (plan job enqueued) to every installation upgraded, upgrades/s
 * and peak RSS of this process (planner + workers run here); then, in the same run, a baseline of
 * one BullMQ job per installation on 100,000 installations, and the ratio of the rates.
 *
 * Redis's side, in the same run (bench/redis-figures.ts): the server's ceiling
 * (`redis-benchmark -P 16 -t hset`, before the set-up and after the rollout) and the rollout's
 * rate as a share of it; commands per installation for the set-up and for the rollout, both as
 * the client sends them (a script call is one) and as Redis executes them (a script's inner
 * calls counted too); Redis CPU; Redis memory per installation (`used_memory` before and after
 * the set-up) and where it goes (MEMORY USAGE per key).
 *
 * Targets on the 2-core machine: 1M ≤ 5 s, ≥ 1/5 of the redis-benchmark rate, ≤ 6 Redis commands
 * executed per installation during the rollout, ≤ 300 bytes of Redis memory per installation,
 * peak RSS ≤ 500 MB; and still ≥ 10× the per-installation baseline. Commandstats and memory are
 * server-wide: run against a Redis of its own for clean figures (the run prints how many other
 * clients were connected).
 *
 * Set-up that is not timed: the populations are generated and stored first. The Forge spread is
 * set to 0 and the population has no maintenance windows, so the figure is throughput (with the
 * default 5-minute spread the same rollout takes 5 minutes by design; windows defer up to 4 h).
 * With no spread, no windows and no approvals every installation gets the same step at once, so
 * the plan is the installation list itself (src/app/rollout/plan-version-rollout.ts).
 * Env: REDIS_URL, BENCH_ROLLOUT_N (default 1,000,000), BENCH_BASELINE_N (default 100,000; 0
 * skips the baseline), BENCH_CPU_PROF (a file: CPU profile of the timed rollout).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Worker, type Job } from 'bullmq';
import { VersionLadder, decideTarget } from '../src/rollout/version-ladder.js';
import { toPlannedVersion } from '../src/app/rollout/ladder.js';
import { generatePopulation } from '../src/app/rollout/installations.js';
import { createKeys } from '../src/store/keys.js';
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
import {
  countClientCommands,
  describeTop,
  installationKeys,
  keyBytes,
  loadAverage,
  redisBenchmarkHset,
  redisCost,
  redisMemory,
  redisSnapshot,
  startProfile,
} from './redis-figures.js';

export async function run(): Promise<void> {
  const N = Number(process.env.BENCH_ROLLOUT_N ?? 1_000_000);
  const BASE_N = Number(process.env.BENCH_BASELINE_N ?? 100_000);
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const prefix = `bench-${randomUUID()}`;
  const env: BenchEnv = { redis, prefix, versions: new BenchVersions() };
  const { versions } = env;
  const sent = countClientCommands();
  try {
    console.log(`load average at start: ${await loadAverage()}`);
    const ceiling0 = await redisBenchmarkHset(redis, url);
    console.log(`redis-benchmark -P 16 -t hset: ${ceiling0 === null ? 'not installed' : `${fmt(ceiling0)} ops/s`}`);

    // ── set-up (not timed) ───────────────────────────────────────────────────────────────────
    const setup = createBenchContext(env);
    versions.add('bench-forge', '2.0.0', 'initial', Date.now() - 86_400_000);
    versions.add('bench-baseline', '2.0.0', 'initial', Date.now() - 86_400_000);
    const mem0 = await redisMemory(redis);
    let snap = await redisSnapshot(redis);
    let sent0 = sent();
    let t = Date.now();
    await generatePopulation(setup, {
      appId: 'bench-forge',
      count: N,
      seed: 1,
      version: '2.0.0',
      maintenanceWindows: false,
    });
    const setupMs = Date.now() - t;
    const setupSent = sent() - sent0;
    const setupCost = redisCost(snap, await redisSnapshot(redis));
    const mem1 = await redisMemory(redis);
    const perInst = (mem1.usedBytes - mem0.usedBytes) / N;
    const bytes = await keyBytes(redis, installationKeys(setup.keys, 'bench-forge'));
    await generatePopulation(setup, {
      appId: 'bench-baseline',
      count: BASE_N,
      seed: 2,
      version: '2.0.0',
      maintenanceWindows: false,
    });
    await setup.close();
    console.log(
      `set-up: ${fmt(N)} installations stored in ${seconds(setupMs)}; ` +
        `${(setupSent / N).toFixed(3)} client commands and ${(setupCost.executed / N).toFixed(2)} executed per installation, ` +
        `Redis CPU ${setupCost.cpuS.toFixed(1)} s; other Redis clients: ${mem0.otherClients}`,
    );
    console.log(`  top: ${describeTop(setupCost)}`);
    console.log(
      `Redis memory: ${fmt(perInst)} bytes per installation (used_memory ${mb(mem0.usedBytes / 1024)} → ${mb(mem1.usedBytes / 1024)}); per key: ` +
        Object.entries(bytes)
          .map(([k, b]) => `${k} ${(b / N).toFixed(1)}`)
          .join(', '),
    );

    // ── batched rollout ──────────────────────────────────────────────────────────────────────
    console.log(`load average before the rollout: ${await loadAverage()}`);
    const profile = await startProfile(process.env.BENCH_CPU_PROF);
    snap = await redisSnapshot(redis);
    sent0 = sent();
    const cpu0 = process.cpuUsage();
    const auto = await timeAutomaticRollout(env, 'bench-forge', '2.1.0', N);
    const cpu = process.cpuUsage(cpu0);
    const rolloutSent = sent() - sent0;
    const rolloutCost = redisCost(snap, await redisSnapshot(redis));
    await profile?.stop();
    const { elapsedMs: elapsed, rate } = auto;
    const rss = process.resourceUsage().maxRSS;
    const planS = auto.planMs === null ? '?' : seconds(auto.planMs);
    console.log(
      `batched rollout: ${fmt(N)} installations upgraded in ${seconds(elapsed)} (publication → all upgraded; planning ${planS}, ${auto.batches} batch jobs)`,
    );
    console.log(
      `  ${fmt(rate)} upgrades/s, peak RSS ${mb(rss)}; node CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s, ` +
        `Redis CPU ${rolloutCost.cpuS.toFixed(1)} s`,
    );
    console.log(
      `  Redis commands per installation: ${(rolloutSent / N).toFixed(4)} sent by the client ` +
        `(${fmt(rolloutSent)}, ${fmt(rolloutCost.scripts)} of them script calls), ` +
        `${(rolloutCost.executed / N).toFixed(4)} executed by Redis (${fmt(rolloutCost.executed)}, scripts' inner calls included)`,
    );
    console.log(`  top: ${describeTop(rolloutCost)}`);
    // The history is part of each record now: the record's growth is the upgrade's history entry.
    const dataAfter = await keyBytes(redis, { data: createKeys(prefix).installationData('bench-forge') });
    console.log(
      `  records after the upgrade: ${(dataAfter.data! / N).toFixed(1)} bytes per installation (before: ${(bytes.data! / N).toFixed(1)})`,
    );
    console.log(`load average after the rollout: ${await loadAverage()}`);
    const ceiling1 = await redisBenchmarkHset(redis, url);
    const ceiling = ceiling0 !== null && ceiling1 !== null ? (ceiling0 + ceiling1) / 2 : null;
    if (ceiling !== null)
      console.log(
        `redis-benchmark -P 16 -t hset after: ${fmt(ceiling1!)} ops/s; mean ${fmt(ceiling)}: ` +
          `the rollout ran at ${(rate / ceiling).toFixed(3)} of it (1/${(ceiling / rate).toFixed(1)})`,
      );

    // ── baseline: one BullMQ job per installation ────────────────────────────────────────────
    let baseRate = Number.NaN;
    if (BASE_N > 0) {
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
          ids.map((id) => ({
            name: 'upgrade-one',
            data: { id },
            opts: { jobId: `one__${id}`, removeOnComplete: true },
          })),
        );
      }
      const baseKey = ctx.keys.versionDistribution('bench-baseline');
      await waitUntil(async () => Number(await redis.hget(baseKey, '2.1.0')) >= BASE_N, 600_000);
      const baseElapsed = Date.now() - t;
      baseRate = BASE_N / (baseElapsed / 1000);
      await worker.close();
      await queue.obliterate({ force: true });
      await ctx.close();
      console.log(
        `baseline (one BullMQ job per installation, concurrency 50): ${fmt(BASE_N)} in ${(baseElapsed / 1000).toFixed(1)} s, ${fmt(baseRate)} upgrades/s`,
      );
      console.log(`ratio: batched ${(rate / baseRate).toFixed(1)}× the per-installation rate`);
    }
    const met = (ok: boolean) => (ok ? 'MET' : 'MISSED');
    console.log(
      `targets: 1M ≤ 5 s ${met(elapsed * (1_000_000 / N) <= 5_000)}, ` +
        `≥ 1/5 of redis-benchmark ${ceiling === null ? '?' : met(rate >= ceiling / 5)}, ` +
        `≤ 6 commands executed per installation ${met(rolloutCost.executed / N <= 6)}, ` +
        `≤ 300 bytes per installation ${met(perInst <= 300)}, peak RSS ≤ 500 MB ${met(rss / 1024 <= 500)}` +
        (BASE_N > 0 ? `, ≥ 10× baseline ${met(rate / baseRate >= 10)}` : ''),
    );
  } finally {
    await cleanup(redis, prefix);
    await redis.quit();
  }
}
