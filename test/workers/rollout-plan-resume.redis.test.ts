/**
 * A planner that dies mid-plan (here: its 3rd bucket write fails, while the next chunk is already
 * being planned) is resumed by the next plan job at its cursor: every installation lands in
 * exactly one bucket, and the enqueued batch ranges cover every bucket. A plan reports its
 * progress in whole percents, once each, ending at 100.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { DAY } from '../../src/lib/clock.js';
import type { Runtime as RolloutContext } from '../../src/runtime.js';
import { planVersionRollout } from '../../src/app/rollout/plan-version-rollout.js';
import { generatePopulation } from '../../src/app/rollout/installations.js';
import { UPGRADE_BATCH_JOB_NAME, type UpgradeBatchJob } from '../../src/jobs/queues.js';
import { ROLLOUT_T0 as T0, createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';

let rw: RolloutHarness;
let ctx: RolloutContext;

beforeEach(async () => {
  // No workers: the test runs the planner itself and reads the jobs it enqueued.
  rw = await createRolloutHarness({ workers: false, settings: { planChunkSize: 1000, batchSize: 300 } });
  ctx = rw.ctx;
});
afterEach(() => rw.close());

it('resumes an interrupted plan at its cursor: each installation planned once, every range enqueued', async () => {
  const N = 5500;
  rw.versions.add({
    appId: 'r',
    kind: 'connect',
    version: '1.0.0',
    bump: 'initial',
    approval: 'automatic',
    detectedAt: T0 - DAY,
  });
  rw.versions.add({
    appId: 'r',
    kind: 'connect',
    version: '1.0.1',
    bump: 'micro',
    approval: 'automatic',
    detectedAt: T0,
  });
  await generatePopulation(ctx, { appId: 'r', count: N, seed: 3, version: '1.0.0' });

  const real = ctx.rollouts.pushBuckets.bind(ctx.rollouts);
  let calls = 0;
  ctx.rollouts.pushBuckets = async (...args) => {
    if (++calls === 3) throw new Error('killed');
    return real(...args);
  };
  await expect(planVersionRollout(ctx, { v: 1, appId: 'r', version: '1.0.1' })).rejects.toThrow('killed');
  expect(await ctx.rollouts.planCursor('r', '1.0.1')).toBe(2000);
  ctx.rollouts.pushBuckets = real;

  const res = await planVersionRollout(ctx, { v: 1, appId: 'r', version: '1.0.1' });
  expect(res.summary).toMatchObject({ total: N, upgrades: N });
  expect((await planVersionRollout(ctx, { v: 1, appId: 'r', version: '1.0.1' })).alreadyPlanned).toBe(true);

  const buckets = await ctx.rollouts.listBuckets('r', '1.0.1');
  const seen = new Set<string>();
  for (const b of buckets)
    for (const id of await ctx.rollouts.bucketRange('r', '1.0.1', b.kind, b.at, 0, -1)) {
      expect(seen.has(id)).toBe(false);
      seen.add(id);
    }
  expect(seen.size).toBe(N);

  const jobs = await ctx.queues.rollout.getJobs(['delayed', 'waiting']);
  const covered = new Map<number, boolean[]>();
  for (const j of jobs) {
    if (j.name !== UPGRADE_BATCH_JOB_NAME) continue; // the late-planning jobs share the queue
    const src = (j.data as UpgradeBatchJob).source;
    if (src.kind !== 'bucket') continue;
    const c = covered.get(src.at) ?? [];
    for (let i = src.start; i <= src.end; i++) c[i] = true;
    covered.set(src.at, c);
  }
  for (const b of buckets) {
    const c = covered.get(b.at) ?? [];
    expect(c.filter(Boolean).length).toBe(b.size);
  }
});

it('reports progress once per whole percent, rising to 100, with more chunks than percents', async () => {
  const N = 1500;
  for (const [version, detectedAt] of [
    ['1.0.0', T0 - DAY],
    ['1.0.1', T0],
  ] as const)
    rw.versions.add({
      appId: 'p',
      kind: 'forge',
      version,
      bump: version === '1.0.0' ? 'initial' : 'micro',
      approval: 'automatic',
      detectedAt,
    });
  await generatePopulation(ctx, { appId: 'p', count: N, seed: 4, version: '1.0.0' });
  const small = { ...ctx, settings: { ...ctx.settings, planChunkSize: 10 } }; // 150 chunks
  const seen: number[] = [];
  const res = await planVersionRollout(small, { v: 1, appId: 'p', version: '1.0.1' }, async (p) => {
    seen.push(p);
  });
  expect(res.summary).toMatchObject({ total: N, upgrades: N });
  expect(seen.at(-1)).toBe(100);
  expect(seen.length).toBeLessThanOrEqual(101);
  for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]!);
  expect(await ctx.rollouts.planCursor('p', '1.0.1')).toBe(N);
});
