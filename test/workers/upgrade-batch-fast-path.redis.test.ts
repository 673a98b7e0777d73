/**
 * The upgrade batch's two paths give the same result (src/app/rollout/upgrade-batch.ts): a bucket
 * batch of a rollout without phases, in an app without approvals, moves its range inside Redis
 * (InstallationStore.upgradeRange, upgradeRange-5.lua); any other batch decides one installation
 * at a time (readStates, decideTarget, the compare-and-set). Here the same population goes each
 * way at the same time, and the versions, histories and distributions must match; a batch run
 * twice changes nothing the second time; an app with approvals takes the slow path (an approved
 * installation passes a manual version); an installation on a version outside the ladder is
 * decided by the slow path inside a fast batch.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyUpgradeBatch, type UpgradeBatchResult } from '../../src/app/rollout/upgrade-batch.js';
import { DAY } from '../../src/lib/clock.js';
import { encodeHistoryEntry } from '../../src/rollout/installation-history.js';
import type { Installation } from '../../src/rollout/types.js';
import type { UpgradeBatchJob } from '../../src/jobs/queues.js';
import { ROLLOUT_T0 as T0, createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';

const versions = ['1.0.0', '1.0.0', '1.0.1', '0.9.5', '1.1.0', 'not-semver', '1.0.1', '1.0.0'];

describe('upgrade batch: fast path (range in Redis) against slow path (one by one)', () => {
  let rw: RolloutHarness;
  beforeEach(async () => {
    rw = await createRolloutHarness({ workers: false });
  });
  afterEach(() => rw.close());

  /** Registers `versions` as installations `<appId>-<k>` of `appId`, at T0 - 2 days. */
  async function populate(appId: string, manual = false): Promise<string[]> {
    const base = { appId, kind: 'connect' as const, approval: 'automatic' as const };
    rw.versions.add({ ...base, version: '1.0.0', bump: 'initial', detectedAt: T0 - 3 * DAY });
    rw.versions.add({
      ...base,
      version: '1.0.1',
      bump: 'micro',
      detectedAt: T0 - 2 * DAY,
      ...(manual ? { approval: 'manual' as const } : {}),
    });
    rw.versions.add({ ...base, version: '1.1.0', bump: 'minor', detectedAt: T0 - DAY });
    const batch: Installation[] = versions.map((version, k) => ({
      id: `${appId}-${k}`,
      appId,
      site: `${appId}-${k}.example.net`,
      products: ['jira'],
      version,
      checkOffsetMs: 1000 * k,
      maintenance: null,
    }));
    await rw.ctx.installs.register(batch, T0 - 2 * DAY);
    return batch.map((i) => i.id);
  }

  async function bucketJob(appId: string, ids: string[]): Promise<UpgradeBatchJob> {
    await rw.connection.rpush(rw.ctx.keys.rolloutBucket(appId, '1.1.0', 'upgrade', T0), ...ids);
    return {
      v: 1,
      appId,
      version: '1.1.0',
      dueAt: T0,
      source: { kind: 'bucket', at: T0, start: 0, end: ids.length - 1 },
    };
  }

  /** Each installation's version and history, in the order of `ids`. */
  async function states(ids: string[]) {
    return Promise.all(
      ids.map(async (id) => {
        const v = await rw.ctx.installs.get(id);
        return { version: v.version, history: v.history };
      }),
    );
  }

  it('the same versions, histories (deferral included) and distribution; a second run changes nothing', async () => {
    const fastIds = await populate('fast');
    const slowIds = await populate('slow');
    // One recorded maintenance deferral on each side, appended with the upgrade it deferred.
    const deferral = () =>
      encodeHistoryEntry({
        at: T0 - 10,
        kind: 'deferred',
        version: '1.1.0',
        until: T0,
        window: { kind: 'ad-hoc', start: T0 - 10, end: T0 },
      });
    await rw.ctx.installs.recordDeferrals('fast', '1.1.0', new Map([['fast-1', deferral()]]));
    await rw.ctx.installs.recordDeferrals('slow', '1.1.0', new Map([['slow-1', deferral()]]));
    const fastJob = await bucketJob('fast', fastIds);
    const slow: UpgradeBatchJob = { ...fastJob, appId: 'slow', source: { kind: 'ids', ids: slowIds } };

    const f = (await applyUpgradeBatch(rw.ctx, fastJob)) as UpgradeBatchResult;
    const s = (await applyUpgradeBatch(rw.ctx, slow)) as UpgradeBatchResult;
    // 1.0.0 ×3, 1.0.1 ×2 and 0.9.5 (outside the ladder: the slow part of the fast batch) move.
    expect(f).toMatchObject({ considered: 8, moved: 6 });
    expect(s).toMatchObject({ considered: 8, moved: 6 });
    const after = await states(fastIds);
    expect(after).toEqual(await states(slowIds));
    expect(after.map((x) => x.version)).toEqual([
      '1.1.0',
      '1.1.0',
      '1.1.0',
      '1.1.0',
      '1.1.0',
      'not-semver',
      '1.1.0',
      '1.1.0',
    ]);
    expect(after[1]!.history.map((e) => e.kind)).toEqual(['registered', 'deferred', 'upgraded']);
    expect(after[3]!.history.at(-1)).toMatchObject({
      kind: 'upgraded',
      from: '0.9.5',
      to: '1.1.0',
      cause: 'automatic',
    });
    expect(await rw.ctx.installs.distribution('fast')).toEqual(await rw.ctx.installs.distribution('slow'));
    expect(await rw.ctx.installs.distribution('fast')).toEqual({ '1.1.0': 7, 'not-semver': 1 });

    // Run again (a redelivered job): nothing moves, no record changes.
    const before = await rw.connection.hgetall(rw.ctx.keys.installationData('fast'));
    expect(await applyUpgradeBatch(rw.ctx, fastJob)).toMatchObject({ considered: 8, moved: 0 });
    expect(await rw.connection.hgetall(rw.ctx.keys.installationData('fast'))).toEqual(before);
    expect(await rw.ctx.installs.distribution('fast')).toEqual({ '1.1.0': 7, 'not-semver': 1 });
  });

  it('the store reports the moves per target and the unknown versions; with approvals, it leaves the versions an approval can change', async () => {
    const ids = await populate('fast');
    const list = rw.ctx.keys.rolloutBucket('fast', '1.1.0', 'upgrade', T0);
    await rw.connection.rpush(list, ...ids);
    const map = new Map([
      ['1.0.0', { target: '1.0.1', cause: 'automatic' as const }],
      ['1.0.1', { target: null, cause: 'automatic' as const }],
      ['1.1.0', { target: null, cause: 'automatic' as const }],
    ]);
    const r = await rw.ctx.installs.upgradeRange('fast', '1.1.0', list, 0, 7, map, T0);
    expect(r).toEqual({
      considered: 8,
      moved: 3,
      deferred: 0,
      targets: new Map([['1.0.1', 3]]),
      unknown: ['fast-3', 'fast-5'],
    });
    // A range past the list's end reads nothing.
    expect(await rw.ctx.installs.upgradeRange('fast', '1.1.0', list, 8, 20, map, T0)).toMatchObject({
      considered: 0,
      moved: 0,
    });
    // 1.0.0 ×3 now run 1.0.1. A map in which an approval can change 1.0.1's decision: while the
    // app has approvals, its installations are left to the caller (with the unknown versions).
    const map2 = new Map([
      ['1.0.0', { target: '1.0.1', cause: 'automatic' as const }],
      ['1.0.1', { target: '1.1.0', cause: 'automatic' as const, approvalMatters: true }],
      ['1.1.0', { target: null, cause: 'automatic' as const }],
    ]);
    await rw.ctx.installs.setApproved('fast', 'fast-0', null, '1.1.0', ['1.1.0'], T0);
    const before = await rw.connection.hgetall(rw.ctx.keys.installationData('fast'));
    expect(await rw.ctx.installs.upgradeRange('fast', '1.1.0', list, 0, 7, map2, T0)).toEqual({
      considered: 8,
      moved: 0,
      deferred: 0,
      targets: new Map(),
      unknown: ['fast-0', 'fast-1', 'fast-2', 'fast-3', 'fast-5', 'fast-6', 'fast-7'],
    });
    expect(await rw.connection.hgetall(rw.ctx.keys.installationData('fast'))).toEqual(before);
    // Without approvals the same map applies to them.
    await rw.connection.del(rw.ctx.keys.installationApproved('fast'));
    expect(await rw.ctx.installs.upgradeRange('fast', '1.1.0', list, 0, 7, map2, T0)).toMatchObject({
      moved: 5,
      targets: new Map([['1.1.0', 5]]),
      unknown: ['fast-3', 'fast-5'],
    });
  });

  it('an app with approvals: an approved installation passes a manual version, as on the slow path', async () => {
    const ids = await populate('manual', true);
    const slowIds = await populate('manual-slow', true);
    // 1.0.1 is manual: manual-0 is approved up to it. Its installations on 1.0.1 are past it (the
    // fast part moves them); those on 1.0.0 and 0.9.5 are decided with their approval.
    await rw.ctx.installs.setApproved('manual', 'manual-0', null, '1.0.1', ['1.0.1'], T0 - DAY);
    await rw.ctx.installs.setApproved('manual-slow', 'manual-slow-0', null, '1.0.1', ['1.0.1'], T0 - DAY);
    const job = await bucketJob('manual', ids);
    expect(await applyUpgradeBatch(rw.ctx, job)).toMatchObject({ considered: 8, moved: 4 });
    const slow: UpgradeBatchJob = { ...job, appId: 'manual-slow', source: { kind: 'ids', ids: slowIds } };
    expect(await applyUpgradeBatch(rw.ctx, slow)).toMatchObject({ considered: 8, moved: 4 });
    const after = await states(ids);
    expect(after).toEqual(await states(slowIds));
    expect(await rw.ctx.installs.distribution('manual')).toEqual(await rw.ctx.installs.distribution('manual-slow'));
    // Approved: 1.0.0 → 1.1.0 past the manual 1.0.1; the others on 1.0.0 are blocked by it, and
    // 0.9.5 takes the automatic 1.0.0 before it.
    expect(after[0]).toMatchObject({ version: '1.1.0' });
    expect(after[0]!.history.at(-1)).toMatchObject({ kind: 'upgraded', from: '1.0.0', to: '1.1.0', cause: 'approval' });
    expect(after.map((x) => x.version)).toEqual([
      '1.1.0',
      '1.0.0',
      '1.1.0',
      '1.0.0',
      '1.1.0',
      'not-semver',
      '1.1.0',
      '1.0.0',
    ]);
  });
});
