/**
 * Scale benchmark: 10,000,000 installations across 4,000 apps (the Marketplace's app count,
 * about seven times its installations), stored through the installation store as registrations
 * are; then the automatic rollout of the largest app through the normal rollout. Prints the
 * set-up time and rate, Redis memory (`used_memory` before and after, per installation, and per
 * key of the largest app and the global index), Redis commands per installation, and the largest
 * app's rollout (time, upgrades/s, planning time) with `redis-benchmark -P 16 -t hset` in the
 * same run as its reference. The figures and what they mean for 100,000,000 installations are
 * in docs/scaling.md.
 *
 * Distribution (Marketplace-like skew): app of rank r (1 … apps) gets a share proportional to
 * 1/r (Zipf, exponent 1), at least one installation. With 4,000 apps the largest holds 11.3 %,
 * the ten largest 33 %, the hundred largest 59 %; the smallest about 280 (of 10,000,000).
 * Installations have the generator's maintenance windows (60 % weekly, 5 % ad hoc), except the
 * largest app's, which have none, so its rollout is throughput (the Forge spread is 0 as in
 * bench/rollout.bench.ts).
 *
 * Memory guard: registration stops once `used_memory` passes BENCH_SCALE_MAX_BYTES (default
 * 8 GB), and the run says how far it got; the figures are then per installation stored, to
 * extrapolate. Run it against a Redis of its own (`redis-server --port 6479 --save ''`): the
 * memory and command figures are server-wide. The run's keys are deleted at its end.
 *
 * Env: REDIS_URL, BENCH_SCALE_N (default 10,000,000), BENCH_SCALE_APPS (default 4,000),
 * BENCH_SCALE_MAX_BYTES (default 8e9). `BENCH_SCALE_N=100000 BENCH_SCALE_APPS=100` runs in seconds.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { generateInstallations } from '../src/rollout/generate-population.js';
import type { Installation } from '../src/rollout/types.js';
import {
  BenchVersions,
  cleanup,
  createBenchContext,
  fmt,
  mb,
  seconds,
  timeAutomaticRollout,
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
} from './redis-figures.js';

/** Installations of each app, largest first: a Zipf (1/rank) split of `total` over `apps`, each ≥ 1. */
export function zipfSizes(total: number, apps: number): number[] {
  let h = 0;
  for (let r = 1; r <= apps; r++) h += 1 / r;
  const sizes = Array.from({ length: apps }, (_, i) => Math.max(1, Math.floor(total / ((i + 1) * h))));
  // The floors leave a remainder: it goes to the largest app.
  sizes[0]! += total - sizes.reduce((n, s) => n + s, 0);
  return sizes;
}

const share = (sizes: number[], k: number, total: number) =>
  `${((sizes.slice(0, k).reduce((n, s) => n + s, 0) / total) * 100).toFixed(1)} %`;

export async function run(): Promise<void> {
  const N = Number(process.env.BENCH_SCALE_N ?? 10_000_000);
  const APPS = Number(process.env.BENCH_SCALE_APPS ?? 4_000);
  const MAX_BYTES = Number(process.env.BENCH_SCALE_MAX_BYTES ?? 8e9);
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const prefix = `bench-${randomUUID()}`;
  const env = { redis, prefix, versions: new BenchVersions() };
  const sizes = zipfSizes(N, APPS);
  const appId = (rank: number) => `scale-app-${rank}`;
  const sent = countClientCommands();
  try {
    console.log(
      `distribution: ${fmt(N)} installations over ${fmt(APPS)} apps, Zipf 1/rank: largest ${fmt(sizes[0]!)} ` +
        `(${share(sizes, 1, N)}), 10 largest ${share(sizes, 10, N)}, 100 largest ${share(sizes, 100, N)}, smallest ${fmt(sizes.at(-1)!)}`,
    );
    console.log(`load average at start: ${await loadAverage()}`);
    const ceiling0 = await redisBenchmarkHset(redis, url);
    console.log(`redis-benchmark -P 16 -t hset: ${ceiling0 === null ? 'not installed' : `${fmt(ceiling0)} ops/s`}`);

    // ── set-up: every app's installations, largest app first ────────────────────────────────
    const ctx = createBenchContext(env);
    const published = Date.now() - 86_400_000;
    const mem0 = await redisMemory(redis);
    const snap = await redisSnapshot(redis);
    const sent0 = sent();
    const t0 = Date.now();
    let stored = 0;
    let appsStored = 0;
    let stoppedAt: number | null = null;
    let lastReport = t0;
    for (let rank = 1; rank <= APPS; rank++) {
      env.versions.add(appId(rank), '2.0.0', 'initial', published);
      let batch: Installation[] = [];
      const pending: Promise<unknown>[] = [];
      for (const inst of generateInstallations({
        appId: appId(rank),
        count: sizes[rank - 1]!,
        seed: rank,
        version: '2.0.0',
        maintenanceWindows: rank !== 1,
      })) {
        batch.push(inst);
        if (batch.length === 5000) {
          // Two registration calls in flight: the client encodes one while Redis runs the other.
          pending.push(ctx.installs.register(batch, Date.now()));
          batch = [];
          if (pending.length === 2) await pending.shift();
        }
      }
      if (batch.length) pending.push(ctx.installs.register(batch, Date.now()));
      await Promise.all(pending);
      stored += sizes[rank - 1]!;
      appsStored = rank;
      if (Date.now() - lastReport > 30_000 || rank === APPS) {
        lastReport = Date.now();
        const m = await redisMemory(redis);
        console.log(
          `  ${fmt(stored)} installations of ${fmt(rank)} apps in ${seconds(lastReport - t0)}; used_memory ${mb(m.usedBytes / 1024)}; load ${await loadAverage()}`,
        );
        if (m.usedBytes > MAX_BYTES) {
          stoppedAt = stored;
          break;
        }
      }
    }
    const setupMs = Date.now() - t0;
    const setupCost = redisCost(snap, await redisSnapshot(redis));
    const setupSent = sent() - sent0;
    const mem1 = await redisMemory(redis);
    const perInst = (mem1.usedBytes - mem0.usedBytes) / stored;
    console.log(
      `set-up: ${fmt(stored)} installations of ${fmt(appsStored)} apps stored in ${seconds(setupMs)} ` +
        `(${fmt(stored / (setupMs / 1000))}/s); Redis CPU ${setupCost.cpuS.toFixed(1)} s; ` +
        `${(setupSent / stored).toFixed(4)} client commands and ${(setupCost.executed / stored).toFixed(2)} executed per installation; ` +
        `other Redis clients: ${mem0.otherClients}`,
    );
    console.log(`  top: ${describeTop(setupCost)}`);
    if (stoppedAt !== null)
      console.log(
        `  stopped at ${fmt(stoppedAt)} installations: used_memory passed ${mb(MAX_BYTES / 1024)} (BENCH_SCALE_MAX_BYTES); ` +
          `${fmt(N)} would need about ${mb((perInst * N) / 1024)}`,
      );
    const bytes = await keyBytes(redis, installationKeys(ctx.keys, appId(1)));
    const largest = sizes[0]!;
    console.log(
      `Redis memory: used_memory ${mb(mem0.usedBytes / 1024)} → ${mb(mem1.usedBytes / 1024)}, ${fmt(perInst)} bytes per installation; ` +
        `largest app per installation: ` +
        Object.entries(bytes)
          .filter(([k]) => k !== 'index' && k !== 'sites')
          .map(([k, b]) => `${k} ${(b / largest).toFixed(1)}`)
          .join(', ') +
        `; global index ${(bytes.index! / stored).toFixed(1)} per installation (${mb(bytes.index! / 1024)}), ` +
        `by-site index ${(bytes.sites! / stored).toFixed(1)} (${mb(bytes.sites! / 1024)})`,
    );
    await ctx.close();

    // ── the largest app's rollout ────────────────────────────────────────────────────────────
    console.log(`load average before the rollout: ${await loadAverage()}`);
    const snap1 = await redisSnapshot(redis);
    const sent1 = sent();
    const auto = await timeAutomaticRollout(env, appId(1), '2.1.0', largest);
    const rolloutCost = redisCost(snap1, await redisSnapshot(redis));
    const rolloutSent = sent() - sent1;
    const ceiling1 = await redisBenchmarkHset(redis, url);
    const ceiling = ceiling0 !== null && ceiling1 !== null ? (ceiling0 + ceiling1) / 2 : null;
    console.log(
      `rollout of the largest app: ${fmt(largest)} installations upgraded in ${seconds(auto.elapsedMs)} ` +
        `(planning ${auto.planMs === null ? '?' : seconds(auto.planMs)}, ${auto.batches} batch jobs), ${fmt(auto.rate)} upgrades/s` +
        (ceiling === null
          ? ''
          : ` = ${(auto.rate / ceiling).toFixed(3)} of redis-benchmark (${fmt(ceiling)} ops/s, mean of before and after)`),
    );
    console.log(
      `  Redis CPU ${rolloutCost.cpuS.toFixed(1)} s; ${(rolloutSent / largest).toFixed(4)} client commands and ` +
        `${(rolloutCost.executed / largest).toFixed(2)} executed per installation; peak RSS ${mb(process.resourceUsage().maxRSS)}`,
    );
    console.log(`  top: ${describeTop(rolloutCost)}`);
    console.log(`load average at the end: ${await loadAverage()}`);
  } finally {
    const t = Date.now();
    await cleanup(redis, prefix);
    console.log(`clean-up: ${seconds(Date.now() - t)}`);
    await redis.quit();
  }
}
