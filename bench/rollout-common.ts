/**
 * What the rollout benchmarks share (bench/rollout.bench.ts, bench/bulk-upgrade.bench.ts): the
 * versions given from memory, the process's context with the benchmarks' rollout settings, the
 * timed automatic rollout of a stored population, formatting and clean-up.
 */
import { Redis } from 'ioredis';
import { systemClock } from '../src/lib/clock.js';
import { silentLogger } from '../src/lib/logger.js';
import type { VersionReader, VersionRecord } from '../src/store/types.js';
import { PLAN_ROLLOUT_JOB_NAME, planRolloutJobId, type PlanRolloutJob } from '../src/jobs/queues.js';
import { createAppContext, type Runtime } from '../src/runtime.js';
import type { VersionStore } from '../src/store/version-store.js';
import { startRolloutWorkers } from '../src/workers/start-workers.js';

/** Versions from memory: the rollout only reads versions (`VersionReader`). */
export class BenchVersions implements VersionReader {
  readonly list: VersionRecord[] = [];
  async getVersion(appId: string, version: string) {
    return this.list.find((v) => v.appId === appId && v.version === version) ?? null;
  }
  async listVersions(appId: string) {
    return this.list.filter((v) => v.appId === appId);
  }
  add(
    appId: string,
    version: string,
    bump: VersionRecord['bump'],
    detectedAt: number,
    more: Partial<VersionRecord> = {},
  ): void {
    this.list.push({
      appId,
      kind: 'forge',
      version,
      bump,
      approval: 'automatic',
      reasons: [],
      warnings: [],
      descriptorHash: 'sha256:' + '0'.repeat(64),
      source: 'deploy',
      detectedAt,
      ...more,
    });
  }
}

export const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;
export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Polls `check` every 50 ms. @throws Error after `timeoutMs` */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Deletes every key of the run's prefix (SCAN, UNLINK). */
export async function cleanup(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/** Redis's CPU time so far (user + system), seconds: the server is one of the run's costs. */
export async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (k: string) => Number(new RegExp(`^${k}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
  return get('used_cpu_user') + get('used_cpu_sys');
}

/** One benchmark run's Redis connection, key prefix and versions. */
export interface BenchEnv {
  redis: Redis;
  prefix: string;
  versions: BenchVersions;
}

/**
 * A process's context on the system clock, with the versions from memory and the benchmarks'
 * settings: no Forge spread (throughput, not the 5-minute spread by design), batches of 2,000,
 * plan chunks of 5,000, 4 batches at once.
 */
export function createBenchContext(env: BenchEnv): Runtime {
  const ctx = createAppContext(
    { connection: env.redis, clock: systemClock, logger: silentLogger, prefix: env.prefix },
    {
      rolloutPolicy: { forgeSpreadMs: 0 },
      settings: { batchSize: 2000, planChunkSize: 5000, upgradeConcurrency: 4 },
    },
  );
  ctx.versions = env.versions as unknown as VersionStore;
  return ctx;
}

/** What `timeAutomaticRollout` measured. */
export interface AutomaticRollout {
  /** Publication (plan job enqueued) → every installation upgraded, ms. */
  elapsedMs: number;
  /** Upgrades per second. */
  rate: number;
  /** Publication → plan finished, ms, when the rollout recorded it. */
  planMs: number | null;
  batches: number | undefined;
}

/**
 * Publishes an automatic minor `version` of `appId` (whose `n` installations run an older
 * version, stored beforehand) and times it through the normal rollout, with this process's
 * rollout workers, until all `n` run it.
 */
export async function timeAutomaticRollout(
  env: BenchEnv,
  appId: string,
  version: string,
  n: number,
): Promise<AutomaticRollout> {
  const ctx = createBenchContext(env);
  const workers = await startRolloutWorkers(ctx);
  try {
    const published = Date.now();
    env.versions.add(appId, version, 'minor', published);
    const job: PlanRolloutJob = { v: 1, appId, version };
    await ctx.queues.rollout.add(PLAN_ROLLOUT_JOB_NAME, job, { jobId: planRolloutJobId(job) });
    const distKey = ctx.keys.versionDistribution(appId);
    await waitUntil(async () => Number(await env.redis.hget(distKey, version)) >= n, 600_000);
    const elapsedMs = Date.now() - published;
    const rollout = await ctx.rollouts.get(appId, version);
    return {
      elapsedMs,
      rate: n / (elapsedMs / 1000),
      planMs: rollout?.plannedAt ? rollout.plannedAt - published : null,
      batches: rollout?.batches,
    };
  } finally {
    await workers.close();
    await ctx.close();
  }
}
