/**
 * Bulk upgrade benchmark: one Forge app with 1,000,000 installations on major 2 moved to major 3
 * by one bulk upgrade (`startBulkUpgrade`, as `mpu forge version bulk-upgrade start` does): time
 * from the start to every installation moved, moves/s; and, in the same run, the automatic
 * rollout of 1,000,000 installations of another app through the normal rollout (the figure of
 * bench/rollout.bench.ts), and the ratio of the times. Peak RSS of this process (planners and
 * workers run here). Target: the bulk upgrade within 1.5× the automatic rollout's time.
 *
 * Set-up that is not timed: both populations are generated and stored first, without maintenance
 * windows, and the Forge spread is 0, so both figures are throughput. Both run with the same
 * settings (batches of 2,000, plan chunks of 5,000, 4 batches at once).
 * Env: REDIS_URL, BENCH_BULK_N (default 1,000,000: each population).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { generatePopulation } from '../src/app/rollout/installations.js';
import { startBulkUpgrade, type BulkUpgradeView } from '../src/app/rollout/bulk-upgrades.js';
import { parseDescriptor } from '../src/versioning/index.js';
import { startRolloutWorkers } from '../src/workers/start-workers.js';
import {
  BenchVersions,
  cleanup,
  createBenchContext,
  fmt,
  mb,
  redisCpu,
  seconds,
  timeAutomaticRollout,
  waitUntil,
  type BenchEnv,
} from './rollout-common.js';

const BULK_APP = 'ari:cloud:ecosystem::app/b0b0b0b0-2222-3333-4444-555555555555';
const AUTO_APP = 'bench-auto';

/** The manifest of both majors: the same permissions, so the bulk upgrade is eligible. */
const MANIFEST = stringify({
  app: { id: BULK_APP, runtime: { name: 'nodejs20.x' } },
  modules: { function: [{ key: 'main', handler: 'index.run' }] },
  permissions: { scopes: ['read:jira-work'] },
});

export async function run(): Promise<void> {
  const N = Number(process.env.BENCH_BULK_N ?? 1_000_000);
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const prefix = `bench-${randomUUID()}`;
  const env: BenchEnv = { redis, prefix, versions: new BenchVersions() };
  try {
    // ── set-up (not timed) ───────────────────────────────────────────────────────────────────
    const setup = createBenchContext(env);
    const t = Date.now();
    await setup.apps.addForgeApp({ ari: BULK_APP, now: t });
    const hash = await setup.descriptors.saveDescriptor(
      BULK_APP,
      parseDescriptor(MANIFEST, { source: 'manifest.yml', kind: 'forge' }),
    );
    env.versions.add(BULK_APP, '2.0.0', 'initial', t - 2 * 86_400_000, { descriptorHash: hash });
    env.versions.add(BULK_APP, '3.0.0', 'major', t - 86_400_000, { descriptorHash: hash, approval: 'manual' });
    env.versions.add(AUTO_APP, '2.0.0', 'initial', t - 86_400_000);
    for (const [appId, seed] of [
      [AUTO_APP, 1],
      [BULK_APP, 2],
    ] as const)
      await generatePopulation(setup, { appId, count: N, seed, version: '2.0.0', maintenanceWindows: false });
    console.log(`set-up: 2 × ${fmt(N)} installations stored in ${seconds(Date.now() - t)}`);
    await setup.close();

    // ── automatic rollout (the reference) ────────────────────────────────────────────────────
    let cpu = await redisCpu(redis);
    const auto = await timeAutomaticRollout(env, AUTO_APP, '2.1.0', N);
    const autoCpu = (await redisCpu(redis)) - cpu;
    console.log(
      `automatic rollout: ${fmt(N)} installations upgraded in ${seconds(auto.elapsedMs)} ` +
        `(planning ${auto.planMs === null ? '?' : seconds(auto.planMs)}, ${auto.batches} batch jobs), ` +
        `${fmt(auto.rate)} upgrades/s; Redis CPU ${autoCpu.toFixed(1)} s`,
    );

    // ── bulk upgrade ─────────────────────────────────────────────────────────────────────────
    const ctx = createBenchContext(env);
    const workers = await startRolloutWorkers(ctx);
    let bulk: BulkUpgradeView;
    let elapsed: number;
    let planMs: number | null = null;
    try {
      cpu = await redisCpu(redis);
      const started = Date.now();
      bulk = (await startBulkUpgrade(ctx, {
        appId: BULK_APP,
        environment: 'production',
        from: 2,
        to: 3,
        account: 'bench',
      })) as BulkUpgradeView;
      const distKey = ctx.keys.versionDistribution(BULK_APP);
      const recKey = ctx.keys.bulkUpgrade(BULK_APP, bulk.id);
      await waitUntil(async () => {
        if (planMs === null && (await redis.hget(recKey, 'planned')) === '1') planMs = Date.now() - started;
        return Number(await redis.hget(distKey, '3.0.0')) >= N;
      }, 600_000);
      elapsed = Date.now() - started;
      cpu = (await redisCpu(redis)) - cpu;
      const rec = await ctx.bulkUpgrades.get(BULK_APP, bulk.id);
      if (rec?.status !== 'completed' || rec.completed !== N)
        throw new Error(`bulk upgrade ${bulk.id}: ${rec?.status}, ${rec?.completed} of ${N} completed`);
    } finally {
      await workers.close();
      await ctx.close();
    }
    const rate = N / (elapsed / 1000);
    const rss = process.resourceUsage().maxRSS;
    const ratio = elapsed / auto.elapsedMs;
    console.log(
      `bulk upgrade: ${fmt(N)} installations moved from 2.0.0 to 3.0.0 in ${seconds(elapsed)} ` +
        `(start → all moved; planning ${planMs === null ? '?' : seconds(planMs)}), ${fmt(rate)} moves/s; Redis CPU ${cpu.toFixed(1)} s`,
    );
    console.log(
      `ratio: bulk time ${ratio.toFixed(2)}× the automatic rollout's (rate ${(rate / auto.rate).toFixed(2)}×); ` +
        `peak RSS ${mb(rss)}`,
    );
    console.log(`target: bulk time ≤ 1.5× automatic ${ratio <= 1.5 ? 'MET' : 'MISSED'}`);
  } finally {
    await cleanup(redis, prefix);
    await redis.quit();
  }
}
