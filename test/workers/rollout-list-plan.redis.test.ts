/**
 * A plan in which every installation gets the same step at the same time (a Forge automatic
 * version whose spread fits in one bucket, in an app without maintenance windows and without
 * approvals that change a step) is the installation list itself (src/app/rollout/plan-version-rollout.ts): one bucket of kind
 * `installations`, batches that name positions of that list, a summary from the version
 * distribution. Checked on a real Redis against what the installation-by-installation planner
 * gives for the same store: same summary, every installation upgraded once, nobody else moved;
 * any condition missing → the usual plan; the installation list never deleted nor expired with
 * the plan's buckets; a lost batch repaired by the sweep; registrations during the plan and a
 * plan resumed after a crash.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DAY, HOUR, MINUTE } from '../../src/lib/clock.js';
import { planVersionRollout } from '../../src/app/rollout/plan-version-rollout.js';
import { applyUpgradeBatch } from '../../src/app/rollout/upgrade-batch.js';
import { controlRollout } from '../../src/app/rollout/rollouts.js';
import { reconcile } from '../../src/app/rollout/reconcile.js';
import { toPlannedVersion } from '../../src/app/rollout/ladder.js';
import { UPGRADE_BATCH_JOB_NAME, type UpgradeBatchJob } from '../../src/jobs/queues.js';
import { PlanContext, PlanSummaryBuilder, planChunk } from '../../src/rollout/plan-rollout.js';
import type { Installation } from '../../src/rollout/types.js';
import type { RolloutPolicy } from '../../src/rollout/types.js';
import type { Settings } from '../../src/app/settings.js';
import { ROLLOUT_T0 as T0, createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';

let rw: RolloutHarness;
afterEach(() => rw?.close());

async function harness(
  opts: { workers?: boolean; policy?: Partial<RolloutPolicy>; settings?: Partial<Settings> } = {},
): Promise<RolloutHarness> {
  rw = await createRolloutHarness({
    workers: opts.workers ?? false,
    rolloutPolicy: { forgeSpreadMs: 0, ...opts.policy },
    settings: { planChunkSize: 400, batchSize: 300, ...opts.settings },
  });
  return rw;
}

/**
 * A Forge app `appId` on 2.0.0 with `n` installations without windows (ids `<appId>-<k>`), a few
 * of them on other versions (already on 2.1.0, on a version outside the ladder), registered a
 * day before T0; 2.1.0 (automatic) published at T0.
 */
async function populate(appId: string, n: number, more: Partial<Installation>[] = []): Promise<Installation[]> {
  const base = { appId, kind: 'forge' as const, approval: 'automatic' as const };
  rw.versions.add({ ...base, version: '2.0.0', bump: 'initial', detectedAt: T0 - 2 * DAY });
  const batch: Installation[] = [];
  for (let k = 0; k < n; k++)
    batch.push({
      id: `${appId}-${k}`,
      appId,
      site: `${appId}-${k}.example.net`,
      products: ['jira'],
      version: k % 50 === 7 ? '2.1.0' : k % 97 === 3 ? 'not-semver' : '2.0.0',
      checkOffsetMs: (k * 7919) % DAY,
      maintenance: null,
      ...(more[k] ?? {}),
    });
  await rw.ctx.installs.register(batch, T0 - DAY);
  rw.versions.add({ ...base, version: '2.1.0', bump: 'minor', detectedAt: T0 });
  return batch;
}

/** The summary the installation-by-installation planner gives for the store as it is now. */
async function expectedSummary(appId: string, version: string, n: number) {
  const all = (await rw.versions.listVersions(appId)).map(toPlannedVersion);
  const target = all.find((v) => v.version === version)!;
  const plan = new PlanContext(target, all, rw.ctx.rolloutPolicy);
  const summary = new PlanSummaryBuilder(target.publishedAt);
  planChunk(plan, await rw.ctx.installs.readPlanChunk(appId, 0, n), summary);
  return summary.summary();
}

async function upgradeJobs(): Promise<UpgradeBatchJob[]> {
  const jobs = await rw.ctx.queues.rollout.getJobs(['delayed', 'waiting', 'prioritized']);
  return jobs.filter((j) => j.name === UPGRADE_BATCH_JOB_NAME).map((j) => j.data as UpgradeBatchJob);
}

/** Positions covered by the `installations` batches, each at most once. */
function coverage(jobs: UpgradeBatchJob[]): number[] {
  const seen: number[] = [];
  for (const j of jobs) {
    if (j.source.kind !== 'installations') continue;
    for (let i = j.source.start; i <= j.source.end; i++) {
      expect(seen[i]).toBeUndefined();
      seen[i] = 1;
    }
  }
  return seen;
}

describe('a plan that is the installation list (real Redis)', () => {
  it('plans one bucket of the whole list, with the summary the per-installation planner gives, and upgrades everyone due once', async () => {
    await harness({ workers: true });
    const N = 1000;
    const batch = await populate('f', N);
    const expected = await expectedSummary('f', '2.1.0', N);
    await rw.plan('f', '2.1.0');

    expect(await rw.ctx.rollouts.listBuckets('f', '2.1.0')).toEqual([{ kind: 'installations', at: T0, size: N }]);
    // No id was copied into a bucket list of its own.
    const copies = await rw.connection.keys(`${rw.prefix}:*:bucket:*`);
    expect(copies).toEqual([]);
    const r = (await rw.ctx.rollouts.get('f', '2.1.0'))!;
    expect(r.summary).toEqual(expected);
    expect(r.summary).toMatchObject({ total: N, upgrades: N - 20 - 11, upToDate: 20 + 11, buckets: 1 });
    expect(r.status).toBe('scheduled');

    // Everyone on 2.0.0 now runs 2.1.0, once; the others did not move.
    const dist = await rw.ctx.installs.distribution('f');
    expect(dist).toEqual({ '2.1.0': N - 11, 'not-semver': 11 });
    const hist = await rw.histories('f');
    for (const inst of batch) {
      const ups = hist.get(inst.id)!.filter((e) => e.kind === 'upgraded');
      if (inst.version === '2.0.0') expect(ups, inst.id).toMatchObject([{ at: T0, from: '2.0.0', to: '2.1.0' }]);
      else expect(ups, inst.id).toEqual([]);
    }
    // The installation list is intact and not expiring.
    expect(await rw.connection.llen(rw.ctx.keys.installationIds('f'))).toBe(N);
    expect(await rw.connection.ttl(rw.ctx.keys.installationIds('f'))).toBe(-1);
  });

  it('enqueues batches that cover every position once, due at the publication', async () => {
    await harness();
    const N = 1000;
    await populate('f', N);
    const res = await planVersionRollout(rw.ctx, { v: 1, appId: 'f', version: '2.1.0' });
    const jobs = await upgradeJobs();
    expect(jobs.every((j) => j.source.kind === 'installations' && j.dueAt === T0)).toBe(true);
    expect(coverage(jobs).filter(Boolean)).toHaveLength(N);
    expect(res.batches).toBe(Math.ceil(N / 300));
    // Applying one batch moves exactly the installations of its positions that need it.
    const first = jobs.find((j) => j.source.kind === 'installations' && j.source.start === 0)!;
    const applied = await applyUpgradeBatch(rw.ctx, first);
    expect(applied).toMatchObject({ considered: 300, moved: 300 - 6 - 4 });
  });

  it('plans installation by installation when any condition is missing', async () => {
    const cases: {
      name: string;
      policy?: Partial<RolloutPolicy>;
      more?: Partial<Installation>[];
      approve?: boolean;
    }[] = [
      { name: 'a spread longer than a bucket', policy: { forgeSpreadMs: 5 * MINUTE } },
      {
        name: 'an installation with maintenance windows',
        more: [{}, { maintenance: { timeZone: 'UTC', weekly: [{ day: 1, start: '00:00', minutes: 240 }], adHoc: [] } }],
      },
      { name: 'an approval that changes a step (past a manual version)', approve: true },
    ];
    for (const c of cases) {
      await harness({ policy: c.policy });
      const N = 400;
      await populate('f', N, c.more);
      if (c.approve) {
        // A manual 2.0.5 between 2.0.0 and 2.1.0: f-5 (on 2.0.0) approved it, the others are blocked.
        rw.versions.add({
          appId: 'f',
          kind: 'forge',
          approval: 'manual',
          version: '2.0.5',
          bump: 'micro',
          detectedAt: T0 - DAY,
        });
        await rw.connection.hset(rw.ctx.keys.installationApproved('f'), 'f-5', '2.0.5');
      }
      const expected = await expectedSummary('f', '2.1.0', N);
      const res = await planVersionRollout(rw.ctx, { v: 1, appId: 'f', version: '2.1.0' });
      const kinds = new Set((await rw.ctx.rollouts.listBuckets('f', '2.1.0')).map((b) => b.kind));
      expect([...kinds], c.name).toEqual(['upgrade']);
      expect(res.summary, c.name).toEqual(expected);
      if (c.approve) expect(res.summary).toMatchObject({ upgrades: 1, blocked: 400 - 8 - 5 - 1 });
      if (c !== cases.at(-1)) await rw.close(); // the last one is closed after the test
    }
  });

  it('approvals that change no step (no manual version in the way) still plan the list', async () => {
    await harness();
    const N = 400;
    await populate('f', N);
    await rw.connection.hset(rw.ctx.keys.installationApproved('f'), 'f-5', '2.0.0');
    const expected = await expectedSummary('f', '2.1.0', N);
    const res = await planVersionRollout(rw.ctx, { v: 1, appId: 'f', version: '2.1.0' });
    expect(await rw.ctx.rollouts.listBuckets('f', '2.1.0')).toEqual([{ kind: 'installations', at: T0, size: N }]);
    expect(res.summary).toEqual(expected);
    // Its batches move everyone due, the approved installation included.
    for (const j of await upgradeJobs()) await applyUpgradeBatch(rw.ctx, j);
    expect(await rw.ctx.installs.distribution('f')).toEqual({ '2.1.0': N - 5, 'not-semver': 5 });
  });

  it('the store refuses to plan the list, writing nothing, while an installation has windows or an approval that matters', async () => {
    await harness();
    await populate('f', 50);
    await rw.ctx.rollouts.create({
      appId: 'f',
      version: '2.1.0',
      kind: 'forge',
      approval: 'automatic',
      bump: 'minor',
      publishedAt: T0,
      status: 'planning',
      resumeTo: null,
      createdAt: T0,
      plannedAt: null,
      summary: null,
      batches: 0,
      supersededBy: null,
    });
    const windowed = rw.ctx.keys.installationWindowed('f');
    await rw.connection.sadd(windowed, 'f-3');
    expect(await rw.ctx.rollouts.planInstallationList('f', '2.1.0', T0, 0)).toBe('per-installation');
    await rw.connection.del(windowed);
    // With approvals, while an installation runs a version whose step an approval can change.
    await rw.connection.hset(rw.ctx.keys.installationApproved('f'), 'f-3', '2.0.0');
    expect(await rw.ctx.rollouts.planInstallationList('f', '2.1.0', T0, 0, ['1.9.0', '2.0.0'])).toBe(
      'per-installation',
    );
    expect(await rw.ctx.rollouts.listBuckets('f', '2.1.0')).toEqual([]);
    expect(await rw.ctx.rollouts.planCursor('f', '2.1.0')).toBe(0);
    // Approvals, but nobody on such a version: planned.
    expect(await rw.ctx.rollouts.planInstallationList('f', '2.1.0', T0, 0, ['1.9.0'])).toMatchObject({ size: 50 });
    expect(await rw.ctx.rollouts.planCursor('f', '2.1.0')).toBe(50);
  });

  it("the plan's expiry (a completed rollout) and a halt's deletion never touch the installation list", async () => {
    await harness();
    await populate('f', 600);
    await planVersionRollout(rw.ctx, { v: 1, appId: 'f', version: '2.1.0' });
    await rw.ctx.rollouts.expireBuckets('f', '2.1.0', 86_400);
    expect(await rw.connection.ttl(rw.ctx.keys.rolloutBuckets('f', '2.1.0'))).toBeGreaterThan(0);
    expect(await rw.connection.ttl(rw.ctx.keys.installationIds('f'))).toBe(-1);
    await controlRollout(rw.ctx, 'f', '2.1.0', 'halt');
    expect(await rw.ctx.rollouts.listBuckets('f', '2.1.0')).toEqual([]);
    expect(await rw.connection.llen(rw.ctx.keys.installationIds('f'))).toBe(600);
    expect(await rw.connection.ttl(rw.ctx.keys.installationIds('f'))).toBe(-1);
  });

  it('batches lost before they ran: the sweep upgrades every installation of the list once', async () => {
    await harness();
    const N = 700;
    await populate('f', N);
    await planVersionRollout(rw.ctx, { v: 1, appId: 'f', version: '2.1.0' });
    await rw.ctx.queues.rollout.obliterate({ force: true });
    rw.clock.advance(2 * HOUR);
    const first = await reconcile(rw.ctx);
    const due = N - 14 - 8; // on 2.0.0
    expect(first).toMatchObject({ overdue: due, repaired: due });
    expect(await rw.ctx.installs.distribution('f')).toEqual({ '2.1.0': N - 8, 'not-semver': 8 });
    expect(await reconcile(rw.ctx)).toMatchObject({ overdue: 0, repaired: 0 });
    for (const [id, h] of await rw.histories('f'))
      expect(h.filter((e) => e.kind === 'upgraded').length, id).toBeLessThanOrEqual(1);
  });

  it('installations registered while the list is planned are planned after it, the usual way', async () => {
    await harness();
    const N = 500;
    await populate('f', N);
    const real = rw.ctx.rollouts.planInstallationList.bind(rw.ctx.rollouts);
    rw.ctx.rollouts.planInstallationList = async (...args) => {
      const r = await real(...args);
      const late: Installation[] = [0, 1, 2].map((k) => ({
        id: `f-new-${k}`,
        appId: 'f',
        site: `f-new-${k}.example.net`,
        products: ['jira'],
        version: '2.0.0',
        checkOffsetMs: 0,
        maintenance: null,
      }));
      await rw.ctx.installs.register(late, T0);
      return r;
    };
    const res = await planVersionRollout(rw.ctx, { v: 1, appId: 'f', version: '2.1.0' });
    expect(res.summary).toMatchObject({ total: N + 3 });
    const buckets = await rw.ctx.rollouts.listBuckets('f', '2.1.0');
    expect(buckets).toHaveLength(2);
    expect(buckets).toEqual(
      expect.arrayContaining([
        { kind: 'upgrade', at: T0, size: 3 },
        { kind: 'installations', at: T0, size: N },
      ]),
    );
    expect(await rw.ctx.rollouts.bucketRange('f', '2.1.0', 'upgrade', T0, 0, -1)).toEqual([
      'f-new-0',
      'f-new-1',
      'f-new-2',
    ]);
    expect(await rw.ctx.rollouts.planCursor('f', '2.1.0')).toBe(N + 3);
  });

  it('a plan that died after the list was planned resumes: every position enqueued, the same summary', async () => {
    await harness();
    const N = 900;
    await populate('f', N);
    const expected = await expectedSummary('f', '2.1.0', N);
    const real = rw.ctx.enqueueUpgradeBatches;
    rw.ctx.enqueueUpgradeBatches = async () => {
      throw new Error('killed');
    };
    await expect(planVersionRollout(rw.ctx, { v: 1, appId: 'f', version: '2.1.0' })).rejects.toThrow('killed');
    expect(await upgradeJobs()).toEqual([]);
    rw.ctx.enqueueUpgradeBatches = real;
    const res = await planVersionRollout(rw.ctx, { v: 1, appId: 'f', version: '2.1.0' });
    expect(res.summary).toEqual(expected);
    expect(coverage(await upgradeJobs()).filter(Boolean)).toHaveLength(N);
  });
});
