/**
 * `mpu apps remove` while a daemon runs: a poll claim, a poll in flight, a versioning step, a
 * rollout plan and its upgrade and notify batches of the removed app all end cleanly (gone /
 * skipped, or a clear app-not-found), and none re-creates a key of the app, its record, its
 * schedule entry or its rollouts index entry. The removal is made to happen at the worst moment
 * by wrapping one store call; no sleeps, time is a ManualClock.
 */
import { indexEntries, keysMatching } from '../helpers/redis.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HOUR } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { createLimiter } from '../../src/lib/limiter.js';
import { pollBatch, type PollBatchDeps } from '../../src/app/detection/poll-batch.js';
import type { FetchesDescriptors } from '../../src/app/detection/poll-app.js';
import { pollSlot } from '../../src/poller/poll-schedule.js';
import { recordVersion, recordVersionBatch } from '../../src/app/detection/record-version.js';
import { registerConnectApp } from '../../src/app/detection/register-app.js';
import { removeApp } from '../../src/app/detection/remove-app.js';
import { AppRemover, escapeGlob } from '../../src/store/app-remover.js';
import type { DescriptorStore } from '../../src/store/descriptor-store.js';
import { parseDescriptor } from '../../src/versioning/index.js';
import { notifyBatch } from '../../src/app/rollout/notify-batch.js';
import {
  UPGRADE_BATCH_JOB_NAME,
  type NotifyBatchJob,
  type UpgradeBatchJob,
  type VersionJob,
} from '../../src/jobs/queues.js';
import type { Runtime as RolloutContext } from '../../src/runtime.js';
import { applyUpgradeBatch } from '../../src/app/rollout/upgrade-batch.js';
import { planVersionRollout } from '../../src/app/rollout/plan-version-rollout.js';
import { generatePopulation } from '../../src/app/rollout/installations.js';
import { schedulerTick } from '../../src/workers/scheduler.js';
import { createHarness, type Harness } from '../helpers/detection-harness.js';
import { createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';

const text = (key: string, rev: number) =>
  JSON.stringify({
    key,
    baseUrl: 'https://example.com',
    authentication: { type: 'jwt' },
    scopes: ['READ'],
    modules: { generalPages: [{ key: `p${rev}`, name: { value: `rev ${rev}` }, url: '/p' }] },
  });
const parsed = (key: string, rev: number) => parseDescriptor(text(key, rev), { source: 'test', kind: 'connect' });
const url = (id: string) => `https://vendor.example.com/${id}/atlassian-connect.json`;
/** A fetcher that answers every app's revision `rev`, after running `before(appId)`. */
const fetcherOf = (rev: number, before: (appId: string) => Promise<void> = async () => {}): FetchesDescriptors => ({
  async fetch(u) {
    const appId = u.split('/')[3]!;
    await before(appId);
    return { status: 'ok', httpStatus: 200, body: text(appId, rev), finalUrl: u };
  },
});

describe('removing an app while the daemon runs', () => {
  const harnesses: Harness[] = [];
  const rollouts: RolloutHarness[] = [];
  afterEach(async () => {
    for (const r of rollouts.splice(0)) await r.close();
    for (const h of harnesses.splice(0)) await h.close();
  });
  const harness = async () => {
    const h = await createHarness({ settings: { pollIntervalMs: 5 * HOUR } });
    harnesses.push(h);
    return h;
  };
  const remove = (h: Harness, appId: string) =>
    removeApp({ apps: h.ctx.apps, remover: new AppRemover(h.connection, h.ctx.keys), logger: silentLogger }, appId);
  /** Every key of the app (`<p>:app:{<appId>}*`). */
  const appKeys = async (h: Harness, appId: string): Promise<string[]> => {
    return keysMatching(h.connection, `${escapeGlob(h.ctx.keys.app(appId))}*`);
  };
  const batchDeps = (h: Harness, fetcher: FetchesDescriptors, extra: Partial<PollBatchDeps> = {}): PollBatchDeps => ({
    ...h.ctx,
    fetcher,
    limiter: createLimiter(4),
    retryJobId: () => undefined,
    enqueueRetry: async () => {},
    versionChanges: async () => {},
    ...extra,
  });
  const slotOf = (h: Harness, appId: string) => ({
    appId,
    slot: pollSlot(appId, h.clock.now(), h.ctx.settings.pollIntervalMs).slot,
  });
  /** Registers `appId` with versions 1.0.0 … of `revs` descriptors. */
  const withVersions = async (h: Harness, appId: string, revs: number) => {
    await registerConnectApp(h.ctx, appId, url(appId));
    let base: string | null = null;
    for (let rev = 0; rev < revs; rev++) {
      const d = parsed(appId, rev);
      await h.ctx.descriptors.saveDescriptor(appId, d);
      const r = await recordVersion(
        { ...h.ctx, enqueuePlanRollout: async () => {} },
        { v: 1, appId, source: 'poll', descriptorHash: d.hash, baseVersion: base, detectedAt: h.clock.now() + rev },
      );
      if (r.status !== 'created') throw new Error(`expected a version, got ${r.status}`);
      base = r.version;
    }
  };

  it('a poll claim of a removed app reports it gone; the scheduler that read it as due does not schedule it again; nothing is re-created', async () => {
    const h = await harness();
    await registerConnectApp(h.ctx, 'gone-app', url('gone-app'));
    await registerConnectApp(h.ctx, 'kept-app', url('kept-app'));
    // The scheduler read the due apps just before the removal…
    const due = await h.ctx.schedule.due(h.clock.now());
    expect(due.map((e) => e.appId).sort()).toEqual(['gone-app', 'kept-app']);
    await remove(h, 'gone-app');
    h.ctx.schedule.due = vi.fn().mockResolvedValueOnce(due).mockResolvedValue([]);
    expect(await schedulerTick(h.ctx)).toEqual({ due: 2 });
    // …and moved them to their next slot: only the app still registered.
    expect(await h.ctx.connection.zrange(h.ctx.keys.pollSchedule(), 0, -1)).toEqual(['kept-app']);

    const res = await pollBatch(batchDeps(h, fetcherOf(0)), [slotOf(h, 'gone-app'), slotOf(h, 'kept-app')], 'chunk-1');
    expect(res).toMatchObject({ gone: 1, polled: 1, changed: 1, failed: 0 });
    // A late record of a poll (a job that claimed it before the removal) writes nothing either.
    await expect(
      h.ctx.apps.recordPollSuccess('gone-app', { at: h.clock.now(), outcome: 'not-modified', httpStatus: 304 }),
    ).rejects.toMatchObject({ code: 'app-not-found' });
    await h.ctx.apps.recordPollFailure('gone-app', { at: h.clock.now(), error: 'descriptor-fetch-failed: boom' });
    expect(await appKeys(h, 'gone-app')).toEqual([]);
    expect((await h.ctx.apps.listApps()).map((a) => a.id)).toEqual(['kept-app']);
  });

  it('removed while its poll is in flight: nothing of the fetched change is stored, the chunk reports it gone', async () => {
    const h = await harness();
    await registerConnectApp(h.ctx, 'inflight-app', url('inflight-app'));
    await registerConnectApp(h.ctx, 'other-app', url('other-app'));
    const fetcher = fetcherOf(0, async (appId) => {
      if (appId === 'inflight-app') await remove(h, appId);
    });
    // The daemon's in-process versioning (it stores each descriptor with its version).
    const versionChanges: PollBatchDeps['versionChanges'] = async (jobs, known) =>
      void (await recordVersionBatch({ ...h.ctx, enqueuePlanRollouts: async () => {} }, jobs, known));
    const res = await pollBatch(
      batchDeps(h, fetcher, { versionChanges }),
      [slotOf(h, 'inflight-app'), slotOf(h, 'other-app')],
      'chunk-1',
    );
    expect(res).toMatchObject({ gone: 1, polled: 1, changed: 1, failed: 0 });
    expect(await appKeys(h, 'inflight-app')).toEqual([]);
    expect(await h.ctx.schedule.nextDue('inflight-app')).toBeNull();
    expect((await h.ctx.versions.listVersions('other-app')).map((v) => v.version)).toEqual(['1.0.0']);
  });

  it('a versioning step of a removed app stores nothing: alone it fails app-not-found, in a batch it is dropped (gone) without a hand-off', async () => {
    const h = await harness();
    for (const id of ['ver-a', 'ver-b']) {
      await withVersions(h, id, 1);
      await h.ctx.descriptors.saveDescriptor(id, parsed(id, 1));
    }
    const job = (appId: string): VersionJob => ({
      v: 1,
      appId,
      source: 'poll',
      descriptorHash: parsed(appId, 1).hash,
      baseVersion: '1.0.0',
      detectedAt: h.clock.now(),
    });
    // The app goes between the step's first reads and its write.
    const removingDescriptors = (appId: string) =>
      ({
        // The new descriptor is read first, then the latest version's (the step's last read).
        getDescriptorText: async (_a: string, hash: string) =>
          [parsed(appId, 0), parsed(appId, 1)].find((p) => p.hash === hash)!.canonical,
        getDescriptor: async (_a: string, hash: string) => {
          const d = [parsed(appId, 0), parsed(appId, 1)].find((p) => p.hash === hash)!;
          await remove(h, appId);
          return d;
        },
      }) as unknown as DescriptorStore;

    await expect(
      recordVersion({ ...h.ctx, descriptors: removingDescriptors('ver-a') }, job('ver-a')),
    ).rejects.toMatchObject({
      code: 'app-not-found',
      message: expect.stringMatching(/'ver-a' was removed/),
    });
    expect(await appKeys(h, 'ver-a')).toEqual([]);

    const enqueueVersion = vi.fn(async () => {});
    const enqueuePlanRollouts = vi.fn(async () => {});
    const res = await recordVersionBatch(
      { ...h.ctx, descriptors: removingDescriptors('ver-b'), enqueueVersion, enqueuePlanRollouts },
      [job('ver-b')],
    );
    expect(res).toEqual({ created: 0, exists: 0, unchanged: 0, superseded: 0, handedOff: 0, gone: 1 });
    expect(enqueueVersion).not.toHaveBeenCalled();
    expect(enqueuePlanRollouts).not.toHaveBeenCalled();
    expect(await appKeys(h, 'ver-b')).toEqual([]);
  });

  describe('rollout jobs', () => {
    /** A rollout context (no workers: the tests run each job's use case) on `h`'s Redis, prefix and clock. */
    const rolloutCtx = async (h: Harness) => {
      const settings = { planChunkSize: 20, batchSize: 10 };
      const r = await createRolloutHarness({
        share: h,
        clock: h.clock,
        versions: h.ctx.versions,
        workers: false,
        settings,
      });
      rollouts.push(r);
      return r.ctx;
    };
    const setUp = async (h: Harness, ctx: RolloutContext, appId: string) => {
      await withVersions(h, appId, 2);
      await generatePopulation(ctx, { appId, count: 60, seed: 1, version: '1.0.0', maintenanceWindows: false });
    };
    const expectNothingLeft = async (h: Harness, ctx: RolloutContext, appId: string) => {
      expect(await appKeys(h, appId)).toEqual([]);
      expect(await h.connection.zrange(h.ctx.keys.rollouts(), 0, -1)).toEqual([]);
      expect(await ctx.rollouts.get(appId, '1.0.1')).toBeNull();
    };

    it('a plan of a removed app ends as gone', async () => {
      const h = await harness();
      const ctx = await rolloutCtx(h);
      await setUp(h, ctx, 'plan-before');
      await remove(h, 'plan-before');
      expect(await planVersionRollout(ctx, { v: 1, appId: 'plan-before', version: '1.0.1' })).toMatchObject({
        status: 'gone',
        batches: 0,
      });
      await expectNothingLeft(h, ctx, 'plan-before');
    });

    it('removed between the read of the version and the creation of its rollout: the new rollout is taken back', async () => {
      const h = await harness();
      const ctx = await rolloutCtx(h);
      await setUp(h, ctx, 'plan-create');
      const create = ctx.rollouts.create.bind(ctx.rollouts);
      ctx.rollouts.create = async (r) => {
        await remove(h, 'plan-create');
        return create(r);
      };
      expect(await planVersionRollout(ctx, { v: 1, appId: 'plan-create', version: '1.0.1' })).toMatchObject({
        status: 'gone',
      });
      await expectNothingLeft(h, ctx, 'plan-create');
    });

    it('removed while planning: the plan stops at its next bucket write, writing nothing', async () => {
      const h = await harness();
      const ctx = await rolloutCtx(h);
      await setUp(h, ctx, 'plan-mid');
      const read = ctx.installs.readChunk.bind(ctx.installs);
      let reads = 0;
      ctx.installs.readChunk = async (...args) => {
        if (++reads === 2) await remove(h, 'plan-mid'); // after the first chunk's buckets were written
        return read(...args);
      };
      const res = await planVersionRollout(ctx, { v: 1, appId: 'plan-mid', version: '1.0.1' });
      expect(res).toMatchObject({ status: 'gone' });
      await expectNothingLeft(h, ctx, 'plan-mid');
    });

    it("a planned rollout's upgrade and notify batches that run after the removal skip it as gone", async () => {
      const h = await harness();
      const ctx = await rolloutCtx(h);
      await setUp(h, ctx, 'batches');
      expect(await planVersionRollout(ctx, { v: 1, appId: 'batches', version: '1.0.1' })).toMatchObject({
        status: 'scheduled',
      });
      // The upgrade batches (the plan also schedules a late-installations pass).
      const jobs = (await ctx.queues.rollout.getJobs(['delayed', 'waiting'])).filter(
        (j) => j.name === UPGRADE_BATCH_JOB_NAME,
      );
      expect(jobs.length).toBeGreaterThan(1);
      await remove(h, 'batches');
      h.clock.advance(48 * HOUR); // every batch is due
      for (const job of jobs)
        expect(await applyUpgradeBatch(ctx, job.data as UpgradeBatchJob)).toMatchObject({ skipped: 'gone', moved: 0 });
      const notify: NotifyBatchJob = { v: 1, appId: 'batches', version: '1.0.1', at: h.clock.now(), start: 0, end: 9 };
      expect(await notifyBatch(ctx, notify)).toEqual({ considered: 0, notified: 0, skipped: 'gone' });
      await expectNothingLeft(h, ctx, 'batches');
      expect(await indexEntries(h.connection, h.ctx.keys.prefix, 'installations')).toEqual({});
      expect(await indexEntries(h.connection, h.ctx.keys.prefix, 'sites-index')).toEqual({});
    });
  });
});
