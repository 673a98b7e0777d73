/**
 * Bulk major-version upgrades on a real Redis (DESIGN.md "Distribution rules", seeds 000/001):
 * eligibility reasons, the three limits, a full run through the rollout queue, cancel midway,
 * installations changing under a running bulk upgrade, exactly-once outcomes on redelivery, and
 * expiry of finished records on the injected clock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  applyBulkBatch,
  cancelBulkUpgrade,
  listBulkUpgrades,
  planBulkUpgrade,
  startBulkUpgrade,
  type BulkUpgradeDryRun,
  type BulkUpgradeView,
} from '../../src/app/rollout/bulk-upgrades.js';
import { generatePopulation } from '../../src/app/rollout/installations.js';
import { AppError } from '../../src/lib/errors.js';
import { HOUR } from '../../src/lib/clock.js';
import { createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';
import { drain } from '../rollout/helpers.js';
import { baseForge, forge, withChange } from '../versioning/helpers.js';

const APP = 'ari:cloud:ecosystem::app/11111111-2222-3333-4444-555555555555';
type F = typeof baseForge & Record<string, unknown>;

let h: RolloutHarness;

async function addVersion(version: string, doc: Record<string, unknown>): Promise<void> {
  const hash = await h.ctx.descriptors.saveDescriptor(APP, forge(doc));
  h.versions.add({
    appId: APP,
    kind: 'forge',
    version,
    bump: version === '2.0.0' ? 'initial' : 'major',
    approval: version === '2.0.0' ? 'automatic' : 'manual',
    descriptorHash: hash,
    detectedAt: h.clock.now(),
  });
}

async function setUp(opts: { workers?: boolean; settings?: Record<string, number> } = {}, target = baseForge) {
  h = await createRolloutHarness({ workers: opts.workers ?? false, settings: { batchSize: 10, ...opts.settings } });
  await h.ctx.apps.addForgeApp({ ari: APP, now: h.clock.now() });
  await addVersion('2.0.0', baseForge);
  await addVersion('3.0.0', target);
  await generatePopulation(h.ctx, { appId: APP, count: 35, seed: 3, version: '2.0.0', maintenanceWindows: false });
}

const start = (extra: Partial<Parameters<typeof startBulkUpgrade>[1]> = {}) =>
  startBulkUpgrade(h.ctx, {
    appId: APP,
    environment: 'production',
    from: 2,
    to: 3,
    account: 'alice',
    ...extra,
  }) as Promise<BulkUpgradeView>;

async function refusal(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

/** Runs the plan and every batch of `id` through the use cases, as the worker would. */
async function runAll(id: string): Promise<void> {
  const p = await planBulkUpgrade(h.ctx, { v: 1, appId: APP, bulkId: id });
  for (let s = 0; s < p.candidates; s += 10)
    await applyBulkBatch(h.ctx, {
      v: 1,
      appId: APP,
      bulkId: id,
      start: s,
      end: Math.min(p.candidates, s + 10) - 1,
      dueAt: h.clock.now(),
    });
}

afterEach(async () => {
  await h?.close();
});

describe('eligibility', () => {
  it.each([
    ['scopes', (d: F) => void d.permissions.scopes.push('write:jira-work'), /adds scopes: write:jira-work/],
    ['egress', (d: F) => void d.permissions.external.fetch.backend.push('https://new.example.com'), /adds egress/],
    [
      'licensing',
      (d: F) => void ((d.app as Record<string, unknown>).licensing = { enabled: true }),
      /licensing changed/,
    ],
  ])('a target that changes %s is refused, saying so', async (code, change, words) => {
    await setUp({}, withChange(baseForge as F, change));
    const err = await refusal(start());
    expect(err.code).toBe('bulk-upgrade-refused');
    expect(err.message).toMatch(words);
    expect((err.details!.reasons as { code: string }[]).map((r) => r.code)).toEqual([code]);
  });

  it('removing scopes and adding an sql module are eligible', async () => {
    await setUp(
      {},
      withChange(baseForge as F, (d) => {
        d.permissions.scopes = [];
        (d.modules as Record<string, unknown>).sql = [{ key: 'db' }];
      }),
    );
    expect((await start()).status).toBe('running');
  });

  it('another environment and a target not greater are refused with every reason', async () => {
    await setUp();
    const err = await refusal(start({ environment: 'staging', from: 3, to: 2 }));
    const codes = (err.details!.reasons as { code: string }[]).map((r) => r.code);
    expect(codes).toEqual(expect.arrayContaining(['environment', 'version']));
    expect(err.message).toMatch(/only production deploys create versions/);
    expect(err.message).toMatch(/target major version 2 is not greater than source major version 3/);
  });
});

describe('limits', () => {
  it('one per app environment, one per account, and a global limit that says to retry in 30 minutes', async () => {
    await setUp({ settings: { bulkUpgradeLimit: 2 } });
    const first = await start();
    const env = await refusal(start({ account: 'bob' }));
    expect(env.details).toMatchObject({ limit: 'environment', blocking: first.id });
    // Another app, same account.
    const OTHER = 'ari:cloud:ecosystem::app/22222222-2222-3333-4444-555555555555';
    await h.ctx.apps.addForgeApp({ ari: OTHER, now: h.clock.now() });
    for (const v of ['2.0.0', '3.0.0']) {
      const hash = await h.ctx.descriptors.saveDescriptor(OTHER, forge(baseForge));
      h.versions.add({
        appId: OTHER,
        kind: 'forge',
        version: v,
        bump: 'major',
        approval: 'manual',
        descriptorHash: hash,
        detectedAt: 0,
      });
    }
    const acct = await refusal(start({ appId: OTHER }));
    expect(acct.details).toMatchObject({ limit: 'account', blocking: first.id });
    await start({ appId: OTHER, account: 'bob' });
    const THIRD = 'ari:cloud:ecosystem::app/33333333-2222-3333-4444-555555555555';
    await h.ctx.apps.addForgeApp({ ari: THIRD, now: h.clock.now() });
    for (const v of ['2.0.0', '3.0.0']) {
      const hash = await h.ctx.descriptors.saveDescriptor(THIRD, forge(baseForge));
      h.versions.add({
        appId: THIRD,
        kind: 'forge',
        version: v,
        bump: 'major',
        approval: 'manual',
        descriptorHash: hash,
        detectedAt: 0,
      });
    }
    const global = await refusal(start({ appId: THIRD, account: 'carol' }));
    expect(global.details).toMatchObject({ limit: 'global', retryAfterSeconds: 1800 });
    expect(global.message).toMatch(/wait around 30 minutes and retry/);
    // Cancelling frees the place.
    await cancelBulkUpgrade(h.ctx, first.id, APP);
    expect((await start({ appId: THIRD, account: 'carol' })).status).toBe('running');
  });
});

describe('execution', () => {
  it('moves every installation on the source major once, through the rollout queue, with its cause in history', async () => {
    await setUp({ workers: true });
    const finished = h.ctx.events.next('bulk:finished', (e) => e.appId === APP, 20_000);
    const b = await start();
    await finished;
    await drain(h.queues());
    const [view] = (await listBulkUpgrades(h.ctx, APP)).bulkUpgrades;
    expect(view).toMatchObject({
      id: b.id,
      status: 'completed',
      from: '2.0.0',
      to: '3.0.0',
      completed: 35,
      pending: 0,
      failed: 0,
    });
    expect(view!.completedAt).not.toBeNull();
    expect(await h.ctx.installs.distribution(APP)).toEqual({ '3.0.0': 35 });
    for (const [, hist] of await h.histories(APP)) {
      const ups = hist.filter((e) => e.kind === 'upgraded');
      expect(ups).toEqual([
        expect.objectContaining({ from: '2.0.0', to: '3.0.0', cause: 'bulk', bulkUpgradeId: b.id }),
      ]);
    }
  });

  it('the plan lists only the installations of the source major (not 12.x or 20.x)', async () => {
    await setUp();
    for (const [version, seed] of [
      ['12.0.0', 7],
      ['20.1.0', 8],
    ] as const)
      await generatePopulation(h.ctx, { appId: APP, count: 5, seed, version, maintenanceWindows: false });
    const b = await start();
    expect((await planBulkUpgrade(h.ctx, { v: 1, appId: APP, bulkId: b.id })).candidates).toBe(35);
    await runAll(b.id);
    expect(await h.ctx.installs.distribution(APP)).toEqual({ '3.0.0': 35, '12.0.0': 5, '20.1.0': 5 });
  });

  it('a redelivered plan or batch changes nothing', async () => {
    await setUp();
    const b = await start();
    await runAll(b.id);
    await runAll(b.id);
    const [view] = (await listBulkUpgrades(h.ctx, APP)).bulkUpgrades;
    expect(view).toMatchObject({ completed: 35, failed: 0, status: 'completed' });
    for (const [, hist] of await h.histories(APP)) expect(hist.filter((e) => e.kind === 'upgraded')).toHaveLength(1);
  });

  it('cancel midway: pending installations stay, moved ones stay moved, later batches do nothing', async () => {
    await setUp();
    const b = await start();
    const p = await planBulkUpgrade(h.ctx, { v: 1, appId: APP, bulkId: b.id });
    expect(p.candidates).toBe(35);
    await applyBulkBatch(h.ctx, { v: 1, appId: APP, bulkId: b.id, start: 0, end: 9, dueAt: h.clock.now() });
    const c = await cancelBulkUpgrade(h.ctx, b.id, APP);
    expect(c).toMatchObject({ status: 'cancelled', completed: 10, pending: 25 });
    const r = await applyBulkBatch(h.ctx, { v: 1, appId: APP, bulkId: b.id, start: 10, end: 19, dueAt: h.clock.now() });
    expect(r).toMatchObject({ moved: 0, stopped: 'cancelled' });
    expect(await h.ctx.installs.distribution(APP)).toEqual({ '2.0.0': 25, '3.0.0': 10 });
    expect((await refusal(cancelBulkUpgrade(h.ctx, b.id, APP))).code).toBe('bulk-upgrade-refused');
  });

  it('installations that changed under it are counted as failed with their reason, never moved', async () => {
    await setUp();
    const ids = (await h.ctx.installs.list(APP, 0, 3)).map((i) => i.id);
    const b = await start({ installations: [...ids, 'nobody'] });
    await planBulkUpgrade(h.ctx, { v: 1, appId: APP, bulkId: b.id });
    // Meanwhile: one moved to another major, one approved past the target.
    await h.ctx.installs.compareAndSetVersions(
      APP,
      [{ id: ids[0]!, expected: '2.0.0', target: '3.0.0', cause: 'approval' }],
      h.clock.now(),
    );
    await h.connection.hset(h.ctx.keys.installationApproved(APP), ids[1]!, '4.0.0');
    await applyBulkBatch(h.ctx, { v: 1, appId: APP, bulkId: b.id, start: 0, end: 2, dueAt: h.clock.now() });
    const [view] = (await listBulkUpgrades(h.ctx, APP)).bulkUpgrades;
    expect(view).toMatchObject({ status: 'completed', total: 4, completed: 1, failed: 3 });
    expect(view!.failures).toEqual({ 'not-installed': 1, 'not-on-source-major': 1, 'approved-past-target': 1 });
  });

  it('a maintenance window defers a move to its end', async () => {
    await setUp();
    const [first] = await h.ctx.installs.list(APP, 0, 1);
    const now = h.clock.now();
    await h.ctx.installs.register(
      [{ ...first!, maintenance: { timeZone: 'UTC', weekly: [], adHoc: [{ start: now - 1, end: now + HOUR }] } }],
      now,
    );
    const b = await start({ installations: [first!.id] });
    await planBulkUpgrade(h.ctx, { v: 1, appId: APP, bulkId: b.id });
    const job = { v: 1 as const, appId: APP, bulkId: b.id, start: 0, end: 0, dueAt: now };
    expect(await applyBulkBatch(h.ctx, job)).toEqual({ kind: 'wait', reason: 'not-due', until: now + HOUR });
    h.clock.advance(HOUR);
    expect(await applyBulkBatch(h.ctx, job)).toMatchObject({ moved: 1 });
  });

  it('a dry run says how many would move and why any would not, and writes nothing', async () => {
    await setUp();
    const d = (await startBulkUpgrade(
      h.ctx,
      {
        appId: APP,
        environment: 'production',
        from: 2,
        to: 3,
        account: 'alice',
        installations: ['nobody', (await h.ctx.installs.list(APP, 0, 1))[0]!.id],
      },
      { dryRun: true },
    )) as BulkUpgradeDryRun;
    expect(d).toMatchObject({
      dryRun: true,
      wouldMove: 1,
      wouldFail: [{ reason: 'not-installed', count: 1 }],
      refusedBy: null,
    });
    expect((await listBulkUpgrades(h.ctx, APP)).bulkUpgrades).toEqual([]);
  });
});

describe('records', () => {
  it('a finished record expires after the retention (clock), and list deletes it', async () => {
    await setUp({ settings: { bulkUpgradeRetentionMs: 24 * HOUR } });
    const b = await start();
    await runAll(b.id);
    const l = await listBulkUpgrades(h.ctx, APP);
    expect(l.retentionMs).toBe(24 * HOUR);
    expect(l.bulkUpgrades[0]!.expiresAt).toBe(new Date(h.clock.now() + 24 * HOUR).toISOString());
    h.clock.advance(24 * HOUR);
    expect((await listBulkUpgrades(h.ctx, APP)).bulkUpgrades).toEqual([]);
    expect(await h.connection.exists(h.ctx.keys.bulkUpgrade(APP, b.id))).toBe(0);
    expect((await refusal(cancelBulkUpgrade(h.ctx, b.id))).code).toBe('bulk-upgrade-not-found');
  });
});
