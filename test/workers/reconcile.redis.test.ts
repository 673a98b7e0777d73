/**
 * The reconciliation sweep and the update check on a real Redis (ManualClock, promoted delayed
 * jobs): delayed upgrade jobs deleted from Redis mid-rollout (as a Redis restarted from an AOF
 * that lost its last second would) → every installation still reaches the version within one
 * sweep interval of its promised time, and none is upgraded twice; late installations (registered
 * after the plan) whose late batches were deleted → upgraded by the first sweep past their promised
 * time plus the grace, once, and none before; the update check's answers
 * agree with the history the rollout records.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, HOUR, MINUTE } from '../../src/lib/clock.js';
import { approveInstallation, generatePopulation, registerInstallations } from '../../src/app/rollout/installations.js';
import { UPGRADE_BATCH_JOB_NAME, type UpgradeBatchJob } from '../../src/jobs/queues.js';
import { reconcile } from '../../src/app/rollout/reconcile.js';
import { updateCheck, whyInstallation } from '../../src/app/rollout/explain.js';
import { promisedUpgrade } from '../../src/rollout/explain-installation.js';
import type { HistoryEntry } from '../../src/rollout/installation-history.js';
import { ROLLOUT_T0 as T0, createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';
import { drain, promoteAndDrain } from '../rollout/helpers.js';

/** The version an installation ran at `t`, read off its history. */
function versionAt(h: readonly HistoryEntry[], t: number): string | null {
  let v: string | null = null;
  for (const e of h) {
    if (e.at > t) break;
    if (e.kind === 'registered') v = e.version;
    if (e.kind === 'upgraded') v = e.to;
  }
  return v;
}

describe('reconciliation sweep and update check (real Redis)', () => {
  let rw: RolloutHarness;
  beforeEach(async () => {
    rw = await createRolloutHarness({
      settings: { batchSize: 200, reconcileIntervalMs: HOUR, reconcileGraceMs: 5 * MINUTE },
    });
  });
  afterEach(() => rw.close());

  it('delayed upgrade jobs lost mid-rollout: every installation reaches the version within one sweep interval, once', async () => {
    const N = 1500;
    rw.versions.add({
      appId: 'c',
      kind: 'connect',
      version: '1.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    await generatePopulation(rw.ctx, { appId: 'c', count: N, seed: 5, version: '1.0.0' });
    const P = T0 + 2 * HOUR + 7 * MINUTE;
    rw.clock.set(P);
    const v101 = rw.versions.add({
      appId: 'c',
      kind: 'connect',
      version: '1.0.1',
      bump: 'micro',
      approval: 'automatic',
      detectedAt: P,
    });
    await rw.plan('c', '1.0.1');
    await rw.runFor(6 * HOUR);
    const early = (await rw.ctx.installs.distribution('c'))['1.0.1'] ?? 0;
    expect(early).toBeGreaterThan(0);
    expect(early).toBeLessThan(N);

    // A lost AOF second: the delayed jobs (the set and the jobs' hashes) are gone.
    const rollout = rw.ctx.queues.rollout;
    const delayed = await rollout.getDelayed();
    expect(delayed.length).toBeGreaterThan(3);
    // BullMQ's own key names (its prefix is hash-tagged on a cluster: one slot for the queue).
    const delayedKey = rollout.keys.delayed!;
    expect(await rw.connection.zcard(delayedKey)).toBe(delayed.length);
    await rw.connection.del(delayedKey, ...delayed.map((j) => rollout.toKey(j.id!)));
    expect(await rollout.getDelayedCount()).toBe(0);

    // The sweep runs every hour of clock time; nothing else is left to upgrade them.
    let repaired = 0;
    for (let h = 0; h < 30; h++) {
      rw.clock.advance(HOUR);
      await promoteAndDrain(rw.queues());
      const r = await reconcile(rw.ctx);
      repaired += r.repaired;
      expect(r.repaired).toBe(r.overdue);
    }
    expect(await rw.ctx.installs.distribution('c')).toEqual({ '1.0.1': N });
    expect(repaired).toBe(N - early);
    const second = await reconcile(rw.ctx);
    expect(second).toMatchObject({ overdue: 0, repaired: 0 });

    const inputs = new Map((await rw.ctx.installs.readPlanChunk('c', 0, N)).map((i) => [i.id, i]));
    const policy = rw.ctx.rolloutPolicy;
    for (const [id, h] of await rw.histories('c')) {
      const ups = h.filter((e) => e.kind === 'upgraded');
      expect(ups, id).toHaveLength(1);
      const i = inputs.get(id)!;
      const promised = promisedUpgrade({ ...v101, publishedAt: v101.detectedAt }, { ...i, knownAt: null }, policy).at;
      expect(ups[0]!.at).toBeGreaterThanOrEqual(promised);
      // one sweep interval (plus the grace before a batch counts as lost)
      expect(ups[0]!.at - promised, id).toBeLessThanOrEqual(HOUR + 5 * MINUTE);
    }
    const metrics = await rw.ctx.metrics.registry.getSingleMetricAsString('mpu_reconcile_repairs_total');
    expect(metrics).toContain(`mpu_reconcile_repairs_total{app="c",kind="upgrade"} ${N - early}`);
  });

  it('late installations whose late batches were lost: upgraded by one sweep past their promised time, once; not yet due ones left alone', async () => {
    rw.versions.add({
      appId: 'c',
      kind: 'connect',
      version: '1.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    const N = 200;
    await generatePopulation(rw.ctx, { appId: 'c', count: N, seed: 7, version: '1.0.0', maintenanceWindows: false });
    const P = T0 + HOUR;
    rw.clock.set(P);
    rw.versions.add({
      appId: 'c',
      kind: 'connect',
      version: '1.0.1',
      bump: 'micro',
      approval: 'automatic',
      detectedAt: P,
    });
    await rw.plan('c', '1.0.1');
    await rw.runFor(6 * HOUR); // Monday 07:00: the plan has finished long ago
    const planEnd = await rw.ctx.rollouts.planCursor('c', '1.0.1');
    expect(planEnd).toBe(N);
    // Registered after the plan: checks at 03:00, 03:30 (Tuesday: due then) and 05:00 (not yet due at the sweep).
    await registerInstallations(rw.ctx, [
      { id: 'l1', appId: 'c', site: 'l1.example.net', version: '1.0.0', checkTime: '03:00' },
      { id: 'l2', appId: 'c', site: 'l2.example.net', version: '1.0.0', checkTime: '03:30' },
      { id: 'l3', appId: 'c', site: 'l3.example.net', version: '1.0.0', checkTime: '05:00' },
    ]);
    await promoteAndDrain(rw.queues()); // the late-planning job
    const rollout = rw.ctx.queues.rollout;
    const late = (await rollout.getDelayed()).filter(
      (j) => j.name === UPGRADE_BATCH_JOB_NAME && (j.data as UpgradeBatchJob).source.kind === 'late',
    );
    const idsOf = (j: (typeof late)[number]) => ((j.data as UpgradeBatchJob).source as { ids: string[] }).ids;
    expect(late.map(idsOf).flat().sort()).toEqual(['l1', 'l2', 'l3']);
    // A lost AOF second takes l1's and l3's late batches (the delayed set entry and the job's hash); l2's survives.
    const lost = late.filter((j) => !idsOf(j).includes('l2'));
    expect(lost).toHaveLength(2);
    await rw.connection.zrem(rollout.keys.delayed!, ...lost.map((j) => j.id!));
    await rw.connection.del(...lost.map((j) => rollout.toKey(j.id!)));

    await rw.runFor(19 * HOUR); // Tuesday 02:00: every planned installation has run its bucket
    expect(await rw.ctx.installs.distribution('c')).toEqual({ '1.0.0': 3, '1.0.1': N });
    // Tuesday 04:00 without running any job: l1 and l2 are past their time + grace, l3 is not.
    rw.clock.set(T0 + DAY + 4 * HOUR);
    const first = await reconcile(rw.ctx);
    expect(first).toMatchObject({ overdue: 2, repaired: 2 });
    expect((await rw.ctx.installs.get('l1')).version).toBe('1.0.1');
    expect((await rw.ctx.installs.get('l2')).version).toBe('1.0.1');
    expect((await rw.ctx.installs.get('l3')).version).toBe('1.0.0');
    // The late mark passes l1 and l2 (settled), not l3.
    expect(await rw.ctx.rollouts.lateMark('c', '1.0.1')).toBe(N + 2);
    expect(await reconcile(rw.ctx)).toMatchObject({ overdue: 0, repaired: 0 });
    // l2's own late batch still runs: it moves nobody.
    await promoteAndDrain(rw.queues());
    expect((await rw.ctx.installs.get('l2')).history.filter((e) => e.kind === 'upgraded')).toHaveLength(1);

    // Past l3's time (+ grace): the next sweep upgrades it; then nothing is left.
    rw.clock.set(T0 + DAY + 6 * HOUR);
    expect(await reconcile(rw.ctx)).toMatchObject({ overdue: 1, repaired: 1 });
    expect(await reconcile(rw.ctx)).toMatchObject({ overdue: 0, repaired: 0 });
    expect(await rw.ctx.installs.distribution('c')).toEqual({ '1.0.1': N + 3 });
    for (const id of ['l1', 'l2', 'l3']) {
      const ups = (await rw.ctx.installs.get(id)).history.filter((e) => e.kind === 'upgraded');
      expect(ups, id).toHaveLength(1);
      expect(ups[0], id).toMatchObject({ from: '1.0.0', to: '1.0.1', cause: 'automatic' });
    }
    const metrics = await rw.ctx.metrics.registry.getSingleMetricAsString('mpu_reconcile_repairs_total');
    expect(metrics).toContain('mpu_reconcile_repairs_total{app="c",kind="upgrade"} 3');
  });

  it('Forge: a late installation whose late batch was lost is upgraded by the first sweep past its slot + grace', async () => {
    rw.versions.add({
      appId: 'f',
      kind: 'forge',
      version: '2.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    await generatePopulation(rw.ctx, { appId: 'f', count: 100, seed: 4, version: '2.0.0', maintenanceWindows: false });
    rw.versions.add({
      appId: 'f',
      kind: 'forge',
      version: '2.1.0',
      bump: 'minor',
      approval: 'automatic',
      detectedAt: T0,
    });
    rw.clock.set(T0);
    await rw.plan('f', '2.1.0');
    await rw.runFor(HOUR, MINUTE); // the planned spread is over
    await registerInstallations(rw.ctx, [{ id: 'lf', appId: 'f', site: 'lf.example.net', version: '2.0.0' }]);
    await promoteAndDrain(rw.queues()); // the late-planning job
    const rollout = rw.ctx.queues.rollout;
    const lost = (await rollout.getDelayed()).filter(
      (j) => j.name === UPGRADE_BATCH_JOB_NAME && (j.data as UpgradeBatchJob).source.kind === 'late',
    );
    expect(lost).toHaveLength(1);
    await rw.connection.zrem(rollout.keys.delayed!, lost[0]!.id!);
    await rw.connection.del(rollout.toKey(lost[0]!.id!));
    rw.clock.advance(MINUTE); // within the spread and the grace: not yet overdue
    expect(await reconcile(rw.ctx)).toMatchObject({ overdue: 0, repaired: 0 });
    expect((await rw.ctx.installs.get('lf')).version).toBe('2.0.0');
    rw.clock.advance(HOUR);
    expect(await reconcile(rw.ctx)).toMatchObject({ overdue: 1, repaired: 1 });
    expect(await reconcile(rw.ctx)).toMatchObject({ overdue: 0, repaired: 0 });
    const ups = (await rw.ctx.installs.get('lf')).history.filter((e) => e.kind === 'upgraded');
    expect(ups).toMatchObject([{ from: '2.0.0', to: '2.1.0', cause: 'automatic' }]);
  });

  it('update-check answers agree with the recorded history at every hour of a rollout (windows, a manual version, an approval)', async () => {
    const N = 300;
    rw.versions.add({
      appId: 'c',
      kind: 'connect',
      version: '1.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    await generatePopulation(rw.ctx, { appId: 'c', count: N, seed: 9, version: '1.0.0' });
    const P = T0 + 30 * MINUTE;
    rw.clock.set(P);
    rw.versions.add({
      appId: 'c',
      kind: 'connect',
      version: '1.0.1',
      bump: 'micro',
      approval: 'automatic',
      detectedAt: P,
    });
    await rw.plan('c', '1.0.1');
    const ids = (await rw.ctx.installs.list('c', 0, N)).map((i) => i.id);
    let manualAt = 0;
    let compared = 0;
    for (let h = 1; h <= 60; h++) {
      await rw.runFor(HOUR);
      const now = rw.clock.now();
      if (h === 20) {
        manualAt = now;
        rw.versions.add({
          appId: 'c',
          kind: 'connect',
          version: '1.1.0',
          bump: 'minor',
          approval: 'manual',
          detectedAt: now,
        });
        await rw.plan('c', '1.1.0');
      }
      if (h === 40) await approveInstallation(rw.ctx, ids[0]!, '1.1.0');
      await drain(rw.queues());
      const histories = await rw.histories('c');
      for (const id of ids.filter((_, k) => k % 10 === 0)) {
        const u = await updateCheck(rw.ctx, id);
        const h = histories.get(id)!;
        expect(u.run, `${id} at ${new Date(now).toISOString()}`).toBe(versionAt(h, now));
        expect(u.status).not.toBe('update'); // every upgrade due by now has been applied
        const shown = h.some((e) => e.kind === 'update-available' && e.version === '1.1.0');
        const approvedIt = h.some((e) => e.kind === 'approved');
        expect(u.status === 'approval-needed', `${id} at ${new Date(now).toISOString()}`).toBe(shown && !approvedIt);
        if (u.status === 'approval-needed') expect(u.needsApproval).toBe('1.1.0');
        expect(u.nextCheckAt).toBeGreaterThan(now);
        expect(u.nextCheckAt).toBeLessThanOrEqual(now + DAY);
        compared++;
      }
    }
    expect(manualAt).toBeGreaterThan(0);
    expect(compared).toBe(60 * 30);
    // Maintenance deferrals are in the histories, each right before the upgrade it deferred, ≤ 4 h.
    let deferrals = 0;
    for (const [, h] of await rw.histories('c'))
      h.forEach((e, k) => {
        if (e.kind !== 'deferred') return;
        deferrals++;
        const up = h[k + 1]!;
        expect(up).toMatchObject({ kind: 'upgraded', to: e.version });
        expect(e.until).toBeGreaterThan(e.at);
        expect(e.until - e.at).toBeLessThanOrEqual(4 * HOUR);
        if (up.kind === 'upgraded') expect(up.at).toBeGreaterThanOrEqual(e.until);
      });
    expect(deferrals).toBeGreaterThan(0);
    expect(await rw.ctx.metrics.registry.getSingleMetricAsString('mpu_upgrades_deferred_total')).toContain(
      `mpu_upgrades_deferred_total{app="c"} ${deferrals}`,
    );
    const approved = await updateCheck(rw.ctx, ids[0]!);
    expect(approved).toMatchObject({ status: 'up-to-date', run: '1.1.0' });
    const other = await whyInstallation(rw.ctx, ids[1]!);
    expect(other.reasons.map((r) => r.kind)).toEqual(['needs-approval']);
    expect(other.words[0]).toMatch(/^version 1\.1\.0 needs its admins' approval \(admins notified at /);
  });
});
