import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { DAY, HOUR, MINUTE, type ManualClock } from '../../src/lib/clock.js';
import { approveInstallation, generatePopulation, registerInstallations } from '../../src/app/rollout/installations.js';
import {
  controlRollout,
  listRollouts,
  observedDelays,
  showRollout,
  versionDistribution,
} from '../../src/app/rollout/rollouts.js';
import type { UpdateAvailableNotice } from '../../src/app/rollout/notifier.js';
import { ROLLOUT_T0 as T0, createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';
import { promoteAndDrain, type MemoryVersions } from '../rollout/helpers.js';

describe('rollout on real Redis (ManualClock, promoted delayed jobs)', () => {
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
  const histories = (appId: string) => rw.histories(appId);

  it('Connect automatic: every installation upgraded once, never before its check, within 24 h + 4 h (+1 h clock step)', async () => {
    const N = 3000;
    versions.add({
      appId: 'c',
      kind: 'connect',
      version: '1.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    await generatePopulation(rw.ctx, { appId: 'c', count: N, seed: 11, version: '1.0.0' });
    const P = T0 + 3 * HOUR + 17 * MINUTE;
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
    await rw.replan('c', '1.0.1'); // duplicate wake-up: no second plan
    const r = (await listRollouts(rw.ctx, { appId: 'c' }))[0]!;
    expect(r.status).toBe('scheduled');
    expect(r.summary!.upgrades).toBe(N);
    expect(r.summary!.delayMaxMs).toBeLessThanOrEqual(28 * HOUR);
    expect(r.progressPercent).toBeLessThan(1); // only checks due in the first bucket ran

    await runFor(12 * HOUR);
    const mid = (await showRollout(rw.ctx, 'c', '1.0.1')).progressPercent;
    expect(mid).toBeGreaterThan(20);
    expect(mid).toBeLessThan(80);

    await runFor(17 * HOUR);
    const done = await showRollout(rw.ctx, 'c', '1.0.1');
    expect(done.complete).toBe(true);
    expect(await versionDistribution(rw.ctx, 'c')).toMatchObject({
      total: N,
      versions: [{ version: '1.0.1', count: N, percent: 100 }],
    });
    // a completed rollout's bucket lists expire (a day) instead of staying forever
    expect(await redis.ttl(rw.ctx.keys.rolloutBuckets('c', '1.0.1'))).toBeGreaterThan(0);
    const observed = await observedDelays(rw.ctx, 'c', '1.0.1');
    expect(observed.upgraded).toBe(N);
    expect(observed.maxMs!).toBeLessThanOrEqual(29 * HOUR);
    expect(observed.p50Ms!).toBeLessThanOrEqual(observed.p99Ms!);
    const h = await histories('c');
    expect(h.size).toBe(N);
    for (const [, entries] of h) {
      const ups = entries.filter((e) => e.kind === 'upgraded');
      expect(ups).toHaveLength(1);
      expect(ups[0]).toMatchObject({ from: '1.0.0', to: '1.0.1', cause: 'automatic' });
      expect(ups[0]!.at).toBeGreaterThanOrEqual(P);
      expect(ups[0]!.at - P).toBeLessThanOrEqual(28 * HOUR + HOUR);
    }
    // redelivery of every batch changes nothing
    for (const q of queues()) await q.obliterate({ force: true });
    await rw.ctx.rollouts.clearBuckets('c', '1.0.1');
    await rw.ctx.rollouts.transition('c', '1.0.1', 'halt');
    expect((await versionDistribution(rw.ctx, 'c')).total).toBe(N);
  });

  it('a newer version supersedes one still rolling out: straight to the newest, one move', async () => {
    versions.add({
      appId: 'f',
      kind: 'forge',
      version: '2.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    await generatePopulation(rw.ctx, { appId: 'f', count: 500, seed: 2, version: '2.0.0' });
    versions.add({ appId: 'f', kind: 'forge', version: '2.1.0', bump: 'minor', approval: 'automatic', detectedAt: T0 });
    await plan('f', '2.1.0');
    clock.advance(MINUTE);
    versions.add({
      appId: 'f',
      kind: 'forge',
      version: '2.2.0',
      bump: 'minor',
      approval: 'automatic',
      detectedAt: T0 + MINUTE,
    });
    await plan('f', '2.2.0');
    await runFor(5 * HOUR, 10 * MINUTE);
    expect((await versionDistribution(rw.ctx, 'f')).versions).toEqual([{ version: '2.2.0', count: 500, percent: 100 }]);
    expect((await rw.ctx.rollouts.get('f', '2.1.0'))!.supersededBy).toBe('2.2.0');
    let direct = 0;
    for (const [, entries] of await histories('f')) {
      const ups = entries.filter((e) => e.kind === 'upgraded');
      expect(ups.length).toBeGreaterThanOrEqual(1);
      expect(ups.at(-1)).toMatchObject({ to: '2.2.0' });
      if (ups.length === 1) direct++;
    }
    expect(direct).toBeGreaterThan(250); // most had not taken 2.1.0 yet when 2.2.0 came
  });

  it('halting a newer version stops older batches from carrying installations to it', async () => {
    versions.add({
      appId: 'g',
      kind: 'forge',
      version: '2.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    await generatePopulation(rw.ctx, { appId: 'g', count: 400, seed: 8, version: '2.0.0', maintenanceWindows: false });
    versions.add({ appId: 'g', kind: 'forge', version: '2.1.0', bump: 'minor', approval: 'automatic', detectedAt: T0 });
    await plan('g', '2.1.0');
    versions.add({ appId: 'g', kind: 'forge', version: '2.2.0', bump: 'minor', approval: 'automatic', detectedAt: T0 });
    await plan('g', '2.2.0');
    await controlRollout(rw.ctx, 'g', '2.2.0', 'halt');
    await runFor(HOUR, 10 * MINUTE);
    const d = await versionDistribution(rw.ctx, 'g');
    expect(d.versions.find((v) => v.version === '2.2.0')?.count ?? 0).toBeLessThan(40); // only the bucket due at once
    expect(d.versions.find((v) => v.version === '2.1.0')!.count).toBeGreaterThan(360);
  });

  it('manual: notify at the next check, nobody upgraded; blocks later automatic versions; approval takes it to the newest, in its window', async () => {
    versions.add({
      appId: 'm',
      kind: 'connect',
      version: '1.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    await registerInstallations(rw.ctx, [
      { id: 'free', appId: 'm', site: 'a.example.net', version: '1.0.0', checkTime: '06:00' },
      // Monday 2025-03-03 10:00-12:00 UTC maintenance window
      {
        id: 'busy',
        appId: 'm',
        site: 'b.example.net',
        version: '1.0.0',
        checkTime: '07:00',
        maintenance: { timeZone: 'UTC', weekly: [{ day: 1, start: '10:00', minutes: 120 }] },
      },
    ]);
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
    expect((await showRollout(rw.ctx, 'm', '1.1.0')).status).toBe('awaiting-approval');
    await runFor(5 * HOUR); // to 06:00: 'free' checks
    expect(notices.flatMap((n) => n.installations.map((i) => i.id))).toEqual(['free']);
    await runFor(2 * HOUR); // 08:00: 'busy' checked too
    expect(notices.flatMap((n) => n.installations.map((i) => i.id)).sort()).toEqual(['busy', 'free']);
    expect((await rw.ctx.installs.get('busy')).updateAvailable).toBe('1.1.0');

    versions.add({
      appId: 'm',
      kind: 'connect',
      version: '1.1.1',
      bump: 'micro',
      approval: 'automatic',
      detectedAt: T0 + 8 * HOUR,
    });
    await plan('m', '1.1.1');
    expect((await showRollout(rw.ctx, 'm', '1.1.1')).summary).toMatchObject({ blocked: 2, upgrades: 0 });
    await runFor(DAY + 2 * HOUR);
    expect((await versionDistribution(rw.ctx, 'm')).versions).toEqual([{ version: '1.0.0', count: 2, percent: 100 }]);

    // Tuesday 10:30, inside busy's window → upgrade at 12:00
    clock.set(T0 + DAY + 10 * HOUR + 30 * MINUTE);
    const a = await approveInstallation(rw.ctx, 'busy');
    expect(a).toMatchObject({ approvedUpTo: '1.1.1', approvedVersions: ['1.1.0'], target: '1.1.1' });
    // the window is Monday only; Tuesday is free: at once
    expect(a.upgradeAt).toBe(clock.now());
    await promoteAndDrain(queues());
    const busy = await rw.ctx.installs.get('busy');
    expect(busy.version).toBe('1.1.1');
    expect(busy.history.map((e) => e.kind)).toEqual(['registered', 'update-available', 'approved', 'upgraded']);
    expect(busy.history.at(-1)).toMatchObject({ from: '1.0.0', to: '1.1.1', cause: 'approval' });

    // next Monday 10:30 inside the window: 'free' approves 1.1.0 only → upgrade deferred to 12:00
    clock.set(T0 + 7 * DAY + 10 * HOUR + 30 * MINUTE);
    await registerInstallations(rw.ctx, [
      {
        id: 'free',
        appId: 'm',
        site: 'a.example.net',
        version: '1.0.0',
        checkTime: '06:00',
        maintenance: { timeZone: 'UTC', weekly: [{ day: 1, start: '10:00', minutes: 120 }] },
      },
    ]);
    const b = await approveInstallation(rw.ctx, 'free', '1.1.0');
    expect(b.upgradeAt).toBe(T0 + 7 * DAY + 12 * HOUR);
    expect(b.target).toBe('1.1.1'); // approving 1.1.0 unblocks the automatic 1.1.1
    await promoteAndDrain(queues());
    expect((await rw.ctx.installs.get('free')).version).toBe('1.0.0');
    clock.set(T0 + 7 * DAY + 12 * HOUR);
    await promoteAndDrain(queues());
    expect((await rw.ctx.installs.get('free')).version).toBe('1.1.1');
    await expect(approveInstallation(rw.ctx, 'nobody')).rejects.toMatchObject({ code: 'installation-not-found' });
    await expect(approveInstallation(rw.ctx, 'free', '9.9.9')).rejects.toMatchObject({ code: 'version-not-found' });
  });

  it('pause holds batches, resume lets them run, halt stops them for good', async () => {
    versions.add({
      appId: 'p',
      kind: 'forge',
      version: '2.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    await generatePopulation(rw.ctx, { appId: 'p', count: 1000, seed: 5, version: '2.0.0' });
    versions.add({ appId: 'p', kind: 'forge', version: '2.1.0', bump: 'minor', approval: 'automatic', detectedAt: T0 });
    await plan('p', '2.1.0');
    await controlRollout(rw.ctx, 'p', '2.1.0', 'pause');
    const before = (await showRollout(rw.ctx, 'p', '2.1.0')).progressPercent; // the bucket due at publication ran at once
    expect(before).toBeLessThan(20);
    await runFor(5 * HOUR, 30 * MINUTE);
    expect((await showRollout(rw.ctx, 'p', '2.1.0')).progressPercent).toBe(before);
    const resumed = await controlRollout(rw.ctx, 'p', '2.1.0', 'resume');
    expect(resumed.status).toBe('scheduled');
    await promoteAndDrain(queues());
    expect((await showRollout(rw.ctx, 'p', '2.1.0')).complete).toBe(true);

    versions.add({
      appId: 'p',
      kind: 'forge',
      version: '2.2.0',
      bump: 'minor',
      approval: 'automatic',
      detectedAt: clock.now(),
    });
    await plan('p', '2.2.0');
    await controlRollout(rw.ctx, 'p', '2.2.0', 'halt');
    const halted = (await showRollout(rw.ctx, 'p', '2.2.0')).progressPercent;
    await runFor(5 * HOUR, 30 * MINUTE);
    expect((await showRollout(rw.ctx, 'p', '2.2.0')).progressPercent).toBe(halted);
    expect(halted).toBeLessThan(20);
    expect((await showRollout(rw.ctx, 'p', '2.2.0')).buckets).toEqual([]);
    await expect(controlRollout(rw.ctx, 'p', '2.2.0', 'resume')).rejects.toMatchObject({ code: 'rollout-conflict' });
    await expect(controlRollout(rw.ctx, 'p', '9.0.0', 'pause')).rejects.toMatchObject({ code: 'rollout-not-found' });
  });
});
