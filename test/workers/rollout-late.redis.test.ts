/**
 * Installations registered after a version's plan read the installation list (late
 * installations, src/workers/late-installations.ts) on real Redis and BullMQ, time on a
 * ManualClock: upgraded within their window measured from registration, maintenance windows
 * respected, manual versions only on approval, the newest version reached in one move, each
 * installation planned exactly once (by the plan or the late path) and upgraded once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { DAY, HOUR, MINUTE, type ManualClock } from '../../src/lib/clock.js';
import { maintenanceWindowEnd, nextCheckAt, type MaintenanceWindows } from '../../src/rollout/index.js';
import type { HistoryEntry } from '../../src/store/installation-store.js';
import { planLateInstallations } from '../../src/app/rollout/late-installations.js';
import { UPGRADE_BATCH_JOB_NAME, type NotifyBatchJob, type UpgradeBatchJob } from '../../src/jobs/queues.js';
import { planVersionRollout } from '../../src/app/rollout/plan-version-rollout.js';
import { approveInstallation, generatePopulation, registerInstallations } from '../../src/app/rollout/installations.js';
import { controlRollout, versionDistribution } from '../../src/app/rollout/rollouts.js';
import type { UpdateAvailableNotice } from '../../src/app/rollout/notifier.js';
import { ROLLOUT_T0 as T0, createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';
import { drain, promoteAndDrain, type MemoryVersions } from '../rollout/helpers.js';

describe('late installations (real Redis, ManualClock)', () => {
  let rw: RolloutHarness;
  let redis: Redis;
  let clock: ManualClock;
  let versions: MemoryVersions;
  let notices: UpdateAvailableNotice[];

  beforeEach(async () => {
    rw = await createRolloutHarness({ settings: { batchSize: 300, planChunkSize: 700, pauseRecheckMs: 30_000 } });
    ({ connection: redis, clock, versions, notices } = rw);
  });
  afterEach(() => rw.close());

  const queues = () => rw.queues();
  const plan = (appId: string, version: string) => rw.plan(appId, version);
  const runFor = (ms: number, step?: number) => rw.runFor(ms, step);
  const upgrades = (h: HistoryEntry[]) =>
    h.filter((e): e is Extract<HistoryEntry, { kind: 'upgraded' }> => e.kind === 'upgraded');
  /** Late batch jobs (any state) and the ids they carry. */
  async function lateJobs() {
    const states = ['delayed', 'waiting', 'active', 'completed', 'failed'] as const;
    const up = (await rw.ctx.queues.rollout.getJobs([...states])).filter(
      (j) => j.name === UPGRADE_BATCH_JOB_NAME && (j.data as UpgradeBatchJob).source.kind === 'late',
    );
    const no = (await rw.ctx.queues.notify.getJobs([...states])).filter(
      (j) => (j.data as NotifyBatchJob).ids !== undefined,
    );
    return {
      upgrades: up.map((j) => j.data as UpgradeBatchJob & { source: { kind: 'late'; ids: string[] } }),
      notifies: no.map((j) => j.data as NotifyBatchJob),
    };
  }
  /** How many times `id` appears in the plan's bucket lists of `version`. */
  async function inPlan(appId: string, version: string, id: string): Promise<number> {
    let n = 0;
    for (const b of await rw.ctx.rollouts.listBuckets(appId, version))
      n += (await rw.ctx.rollouts.bucketRange(appId, version, b.kind, b.at, 0, -1)).filter((x) => x === id).length;
    return n;
  }

  it('Connect: registered mid-rollout on the old version → upgraded at its first check after registration (a window defers it), one upgrade', async () => {
    versions.add({
      appId: 'c',
      kind: 'connect',
      version: '1.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    await generatePopulation(rw.ctx, { appId: 'c', count: 600, seed: 11, version: '1.0.0' });
    const P = T0 + HOUR;
    clock.set(P);
    versions.add({
      appId: 'c',
      kind: 'connect',
      version: '1.0.1',
      bump: 'micro',
      approval: 'automatic',
      detectedAt: P,
    });
    await plan('c', '1.0.1');
    await runFor(6 * HOUR);
    const R = clock.now(); // Monday 07:00: 'late' checks at 03:00, its first check is Tuesday 03:00
    // Tuesday 04:30–06:30 UTC window over 'late-w''s 05:00 check
    const window: MaintenanceWindows = {
      timeZone: 'UTC',
      weekly: [{ day: 2, start: '04:30', minutes: 120 }],
      adHoc: [],
    };
    expect(
      await registerInstallations(rw.ctx, [
        { id: 'late', appId: 'c', site: 'late.example.net', version: '1.0.0', checkTime: '03:00' },
        {
          id: 'late-w',
          appId: 'c',
          site: 'late-w.example.net',
          version: '1.0.0',
          checkTime: '05:00',
          maintenance: window,
        },
      ]),
    ).toEqual({ created: 2, updated: 0 });
    await promoteAndDrain(queues()); // the late-planning job
    const jobs = await lateJobs();
    expect(jobs.upgrades.sort((a, b) => a.dueAt - b.dueAt).map((j) => [j.version, j.dueAt, j.source.ids])).toEqual([
      ['1.0.1', T0 + DAY + 3 * HOUR, ['late']],
      ['1.0.1', T0 + DAY + 6.5 * HOUR, ['late-w']],
    ]);
    expect(await inPlan('c', '1.0.1', 'late')).toBe(0); // the plan had finished: planned once, by the late path

    await runFor(20 * HOUR - HOUR); // to Tuesday 02:00: not yet
    expect((await rw.ctx.installs.get('late')).version).toBe('1.0.0');
    await runFor(6 * HOUR);
    const late = await rw.ctx.installs.get('late');
    const lateW = await rw.ctx.installs.get('late-w');
    expect(late.history.map((e) => e.kind)).toEqual(['registered', 'upgraded']);
    expect(upgrades(late.history)).toEqual([
      { kind: 'upgraded', at: T0 + DAY + 3 * HOUR, from: '1.0.0', to: '1.0.1', cause: 'automatic' },
    ]);
    expect(upgrades(late.history)[0]!.at).toBe(nextCheckAt(3 * HOUR, R, DAY));
    const w = upgrades(lateW.history);
    expect(w).toHaveLength(1);
    expect(w[0]!.at).toBeGreaterThanOrEqual(T0 + DAY + 6.5 * HOUR); // deferred to the window's end
    expect(w[0]!.at - R).toBeLessThanOrEqual(24 * HOUR + 4 * HOUR);
    expect(maintenanceWindowEnd(window, w[0]!.at)).toBeNull();
    await runFor(4 * HOUR);
    expect(await versionDistribution(rw.ctx, 'c')).toMatchObject({
      total: 602,
      versions: [{ version: '1.0.1', count: 602 }],
    });
  });

  it('Forge: registered mid-rollout → upgraded within minutes of registration', async () => {
    versions.add({
      appId: 'f',
      kind: 'forge',
      version: '2.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    await generatePopulation(rw.ctx, { appId: 'f', count: 300, seed: 2, version: '2.0.0', maintenanceWindows: false });
    versions.add({ appId: 'f', kind: 'forge', version: '2.1.0', bump: 'minor', approval: 'automatic', detectedAt: T0 });
    await plan('f', '2.1.0');
    clock.advance(2 * MINUTE); // the rollout is still spreading
    const R = clock.now();
    await registerInstallations(rw.ctx, [{ id: 'lf', appId: 'f', site: 'lf.example.net', version: '2.0.0' }]);
    await promoteAndDrain(queues());
    await runFor(10 * MINUTE, 15_000);
    const ups = upgrades((await rw.ctx.installs.get('lf')).history);
    expect(ups).toHaveLength(1);
    expect(ups[0]).toMatchObject({ from: '2.0.0', to: '2.1.0', cause: 'automatic' });
    expect(ups[0]!.at).toBeGreaterThanOrEqual(R);
    expect(ups[0]!.at - R).toBeLessThanOrEqual(5 * MINUTE + 30_000); // spread + a bucket + a clock step
  });

  it('manual: a late installation is told at its next check, not upgraded without approval, and is after approval', async () => {
    versions.add({
      appId: 'm',
      kind: 'connect',
      version: '1.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    await generatePopulation(rw.ctx, { appId: 'm', count: 200, seed: 3, version: '1.0.0' });
    versions.add({
      appId: 'm',
      kind: 'connect',
      version: '1.1.0',
      bump: 'minor',
      approval: 'manual',
      detectedAt: T0 + HOUR,
    });
    clock.set(T0 + HOUR);
    await plan('m', '1.1.0');
    clock.set(T0 + 8 * HOUR);
    await registerInstallations(rw.ctx, [
      { id: 'lm', appId: 'm', site: 'lm.example.net', version: '1.0.0', checkTime: '06:00' },
    ]);
    await promoteAndDrain(queues());
    expect((await lateJobs()).notifies.map((n) => [n.version, n.at, n.ids])).toEqual([
      ['1.1.0', T0 + DAY + 6 * HOUR, ['lm']],
    ]);
    expect((await lateJobs()).upgrades).toEqual([]);
    await runFor(2 * DAY);
    const before = await rw.ctx.installs.get('lm');
    expect(before.version).toBe('1.0.0');
    expect(before.updateAvailable).toBe('1.1.0');
    expect(before.history.map((e) => e.kind)).toEqual(['registered', 'update-available']);
    expect(before.history[1]!.at).toBe(T0 + DAY + 6 * HOUR);
    expect(notices.some((n) => n.installations.some((i) => i.id === 'lm'))).toBe(true);

    const a = await approveInstallation(rw.ctx, 'lm');
    expect(a).toMatchObject({ approvedUpTo: '1.1.0', target: '1.1.0' });
    await promoteAndDrain(queues());
    const after = await rw.ctx.installs.get('lm');
    expect(after.version).toBe('1.1.0');
    expect(upgrades(after.history)).toEqual([
      { kind: 'upgraded', at: clock.now(), from: '1.0.0', to: '1.1.0', cause: 'approval' },
    ]);
  });

  it('registered while the plan job runs (mid-plan, or after its last read): planned once, by the plan; upgraded once', async () => {
    versions.add({
      appId: 'r',
      kind: 'connect',
      version: '1.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    await generatePopulation(rw.ctx, { appId: 'r', count: 2000, seed: 5, version: '1.0.0' });
    await promoteAndDrain(queues());
    versions.add({
      appId: 'r',
      kind: 'connect',
      version: '1.0.1',
      bump: 'micro',
      approval: 'automatic',
      detectedAt: T0,
    });
    const installs = rw.ctx.installs;
    const real = installs.readChunk.bind(installs);
    const registered: string[] = [];
    const latePlannedMeanwhile: number[] = [];
    const register = async (id: string) => {
      registered.push(id);
      await registerInstallations(rw.ctx, [
        { id, appId: 'r', site: `${id}.example.net`, version: '1.0.0', checkTime: '05:00' },
      ]);
      // the late planner runs at once, while the plan is still in progress: it must leave the
      // installation to the plan (and drop its log entry), and the plan must then read it
      latePlannedMeanwhile.push((await planLateInstallations(rw.ctx, { v: 1, appId: 'r' })).upgrades);
    };
    installs.readChunk = async (appId, start, count) => {
      const got = await real(appId, start, count);
      // one registration lands while the plan is in its first chunk, one after its read found the end
      if (appId === 'r' && start === 0 && !registered.includes('mid')) await register('mid');
      else if (appId === 'r' && got.read === 0 && !registered.includes('racer')) await register('racer');
      return got;
    };
    const res = await planVersionRollout(rw.ctx, { v: 1, appId: 'r', version: '1.0.1' });
    installs.readChunk = real;
    expect(registered).toEqual(['mid', 'racer']);
    expect(latePlannedMeanwhile).toEqual([0, 0]);
    expect(res.summary).toMatchObject({ total: 2002, upgrades: 2002 }); // the plan read on past its first end
    expect(await rw.ctx.rollouts.planCursor('r', '1.0.1')).toBe(2002);
    expect(await inPlan('r', '1.0.1', 'mid')).toBe(1);
    expect(await inPlan('r', '1.0.1', 'racer')).toBe(1);

    // the late-planning jobs their registrations enqueued find nothing to do
    await promoteAndDrain(queues());
    expect(await planLateInstallations(rw.ctx, { v: 1, appId: 'r' })).toMatchObject({ upgrades: 0, notifies: 0 });
    expect(await lateJobs()).toEqual({ upgrades: [], notifies: [] });
    expect(await redis.llen(rw.ctx.keys.installationLog('r'))).toBe(0);

    // one registered after the plan finished: the late path's, once
    await registerInstallations(rw.ctx, [
      { id: 'after', appId: 'r', site: 'after.example.net', version: '1.0.0', checkTime: '05:00' },
    ]);
    await promoteAndDrain(queues());
    expect(await inPlan('r', '1.0.1', 'after')).toBe(0);
    expect((await lateJobs()).upgrades.flatMap((j) => j.source.ids)).toEqual(['after']);

    await runFor(30 * HOUR);
    for (const id of ['mid', 'racer', 'after']) {
      const ups = upgrades((await rw.ctx.installs.get(id)).history);
      expect(ups, id).toHaveLength(1);
      expect(ups[0]).toMatchObject({ to: '1.0.1', at: T0 + 5 * HOUR });
    }
    expect((await versionDistribution(rw.ctx, 'r')).versions).toEqual([
      { version: '1.0.1', count: 2003, percent: 100 },
    ]);
  });

  it('registering again changes nothing; one already on the newest version is left alone', async () => {
    versions.add({
      appId: 'a',
      kind: 'forge',
      version: '2.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    versions.add({ appId: 'a', kind: 'forge', version: '2.1.0', bump: 'minor', approval: 'automatic', detectedAt: T0 });
    await plan('a', '2.1.0');
    const once = { id: 'twice', appId: 'a', site: 'twice.example.net', version: '2.0.0' };
    await registerInstallations(rw.ctx, [
      once,
      { id: 'fresh', appId: 'a', site: 'fresh.example.net', version: '2.1.0' },
    ]);
    await promoteAndDrain(queues());
    const jobsAfterFirst = await lateJobs();
    expect(jobsAfterFirst.upgrades.flatMap((j) => j.source.ids)).toEqual(['twice']);
    const counts = async () =>
      Promise.all(queues().map((q) => q.getJobCountByTypes('delayed', 'waiting', 'active', 'completed', 'failed')));
    const before = await counts();

    expect(
      await registerInstallations(rw.ctx, [
        once,
        { id: 'fresh', appId: 'a', site: 'fresh.example.net', version: '2.1.0' },
      ]),
    ).toEqual({ created: 0, updated: 2 });
    expect(await redis.llen(rw.ctx.keys.installationLog('a'))).toBe(0); // nothing logged
    await promoteAndDrain(queues());
    expect(await counts()).toEqual(before); // no job enqueued
    expect(await planLateInstallations(rw.ctx, { v: 1, appId: 'a' })).toMatchObject({ registrations: 0, upgrades: 0 });

    await runFor(10 * MINUTE, MINUTE);
    expect(upgrades((await rw.ctx.installs.get('twice')).history)).toMatchObject([{ from: '2.0.0', to: '2.1.0' }]);
    expect((await rw.ctx.installs.get('fresh')).history.map((e) => e.kind)).toEqual(['registered']);
    // the late batch redelivered (retry, second daemon) moves nobody again
    const j = jobsAfterFirst.upgrades[0]!;
    const applied = rw.ctx.events.next('rollout:batch:applied', (e) => e.appId === 'a' && e.version === j.version);
    await rw.ctx.queues.rollout.add(UPGRADE_BATCH_JOB_NAME, j, { jobId: `redelivered-${Date.now()}` });
    expect((await applied).moved).toBe(0);
    expect(upgrades((await rw.ctx.installs.get('twice')).history)).toHaveLength(1);
  });

  it('supersession: straight to the newest version in one move; a halted newest → the previous one; a paused newest → the previous one, then the newest on resume', async () => {
    for (const app of ['s', 'h', 'p']) {
      versions.add({
        appId: app,
        kind: 'forge',
        version: '2.0.0',
        bump: 'initial',
        approval: 'automatic',
        detectedAt: T0 - DAY,
      });
      versions.add({
        appId: app,
        kind: 'forge',
        version: '2.1.0',
        bump: 'minor',
        approval: 'automatic',
        detectedAt: T0,
      });
      versions.add({
        appId: app,
        kind: 'forge',
        version: '2.2.0',
        bump: 'minor',
        approval: 'automatic',
        detectedAt: T0 + MINUTE,
      });
      await plan(app, '2.1.0');
      await plan(app, '2.2.0');
    }
    clock.advance(HOUR);
    await registerInstallations(
      rw.ctx,
      ['s', 'h', 'p'].map((app) => ({ id: `x-${app}`, appId: app, site: `${app}.example.net`, version: '2.0.0' })),
    );
    await drain(queues()); // nothing due yet (the late-planning jobs are delayed)
    for (const app of ['s', 'h', 'p']) await planLateInstallations(rw.ctx, { v: 1, appId: app });
    expect((await lateJobs()).upgrades.map((j) => `${j.appId}@${j.version}`).sort()).toEqual([
      'h@2.2.0',
      'p@2.2.0',
      's@2.2.0',
    ]); // one late step each
    await controlRollout(rw.ctx, 'h', '2.2.0', 'halt');
    await controlRollout(rw.ctx, 'p', '2.2.0', 'pause');
    await runFor(10 * MINUTE, MINUTE);
    expect(upgrades((await rw.ctx.installs.get('x-s')).history).map((u) => `${u.from}->${u.to}`)).toEqual([
      '2.0.0->2.2.0',
    ]);
    expect(upgrades((await rw.ctx.installs.get('x-h')).history).map((u) => `${u.from}->${u.to}`)).toEqual([
      '2.0.0->2.1.0',
    ]);
    expect(upgrades((await rw.ctx.installs.get('x-p')).history).map((u) => `${u.from}->${u.to}`)).toEqual([
      '2.0.0->2.1.0',
    ]);
    await controlRollout(rw.ctx, 'p', '2.2.0', 'resume');
    await runFor(2 * MINUTE, MINUTE); // the paused batch looks again (promoted)
    expect(upgrades((await rw.ctx.installs.get('x-p')).history).map((u) => `${u.from}->${u.to}`)).toEqual([
      '2.0.0->2.1.0',
      '2.1.0->2.2.0',
    ]);
  });

  it('an import of 5,000 during a Connect rollout: planned in shared batches (not a job each), each once, all upgraded within the window', async () => {
    versions.add({
      appId: 'i',
      kind: 'connect',
      version: '1.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    await generatePopulation(rw.ctx, { appId: 'i', count: 100, seed: 9, version: '1.0.0' });
    versions.add({
      appId: 'i',
      kind: 'connect',
      version: '1.0.1',
      bump: 'micro',
      approval: 'automatic',
      detectedAt: T0,
    });
    await plan('i', '1.0.1');
    clock.advance(3 * HOUR);
    const R = clock.now();
    // an importer's batches of 1,000 (each logged as it is stored), then the late-planning jobs
    for (let b = 0; b < 5; b++) {
      const batch = Array.from({ length: 1000 }, (_, k) => ({
        id: `imp-${b}-${k}`,
        appId: 'i',
        site: `s${b}-${k}.example.net`,
        version: '1.0.0',
      }));
      await registerInstallations(rw.ctx, batch);
    }
    await promoteAndDrain(queues());
    const { upgrades: late } = await lateJobs();
    const ids = late.flatMap((j) => j.source.ids);
    expect(ids).toHaveLength(5000);
    expect(new Set(ids).size).toBe(5000); // each planned once, though five jobs ran
    expect(late.length).toBeLessThan(24 * 12 + 5000 / 300 + 5); // ≈ one per 5-minute bucket of the day
    expect(late.length).toBeLessThan(500);
    await runFor(29 * HOUR);
    let n = 0;
    for await (const [id, h] of rw.ctx.installs.scanHistory('i')) {
      if (!id.startsWith('imp-')) continue;
      const ups = upgrades(h);
      expect(ups).toHaveLength(1);
      expect(ups[0]!.at).toBeGreaterThanOrEqual(R);
      expect(ups[0]!.at - R).toBeLessThanOrEqual(24 * HOUR + 4 * HOUR + HOUR); // + the test's clock step
      n++;
    }
    expect(n).toBe(5000);
  });
});
