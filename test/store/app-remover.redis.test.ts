/**
 * Removing an app (`mpu apps remove`) on a real Redis: every key of the app goes, and nothing of
 * another app, not even one whose id starts with the removed one (`app` / `app-2`), whose
 * rollout ids look alike (`app@x@1.0.1`), or whose id or key prefix holds glob characters
 * (`*`, `?`, `[…]`, `\`) that an unescaped SCAN MATCH would expand.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createLogger } from '../../src/lib/logger.js';
import { previewAppRemoval, removeApp } from '../../src/app/detection/remove-app.js';
import type { PlanSummary } from '../../src/rollout/plan-rollout.js';
import { AppRemover, escapeGlob } from '../../src/store/app-remover.js';
import { AppStore } from '../../src/store/app-store.js';
import { BulkUpgradeStore } from '../../src/store/bulk-upgrade-store.js';
import { DescriptorStore } from '../../src/store/descriptor-store.js';
import { InstallationStore } from '../../src/store/installation-store.js';
import { createKeys, type Keys } from '../../src/store/keys.js';
import { PollScheduleStore } from '../../src/store/poll-schedule-store.js';
import { RolloutStore } from '../../src/store/rollout-store.js';
import { VersionStore } from '../../src/store/version-store.js';
import { parseDescriptor } from '../../src/versioning/index.js';
import { connectTestRedis, deleteKeysWithPrefix, indexEntries, testPrefix, keysMatching } from '../helpers/redis.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');

/** Apps seeded in every test: prefixes of each other, look-alike rollout ids, glob characters. */
const APPS = ['app', 'app-2', 'app@x', 'ab', 'abc', 'bpp', 'a*', 'ap?', '[ab]pp', 'a\\b'];

interface World {
  redis: Redis;
  prefix: string;
  keys: Keys;
  apps: AppStore;
  versions: VersionStore;
  descriptors: DescriptorStore;
  schedule: PollScheduleStore;
  installs: InstallationStore;
  rollouts: RolloutStore;
  remover: AppRemover;
}

const redises: Redis[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  const r = redises[0];
  for (const p of prefixes.splice(0)) if (r) await deleteKeysWithPrefix(r, escapeGlob(p));
  for (const x of redises.splice(0)) await x.quit();
});

async function world(prefix = testPrefix(), redis?: Redis): Promise<World> {
  if (!redis) {
    redis = await connectTestRedis();
    redises.push(redis);
  }
  prefixes.push(prefix);
  const keys = createKeys(prefix);
  return {
    redis,
    prefix,
    keys,
    apps: new AppStore(redis, keys),
    versions: new VersionStore(redis, keys),
    descriptors: new DescriptorStore(redis, keys),
    schedule: new PollScheduleStore(redis, keys),
    installs: new InstallationStore(redis, keys),
    rollouts: new RolloutStore(redis, keys),
    remover: new AppRemover(redis, keys),
  };
}

const descriptor = (key: string, rev: number) =>
  parseDescriptor(
    JSON.stringify({
      key,
      baseUrl: 'https://example.com',
      authentication: { type: 'jwt' },
      scopes: ['READ'],
      modules: { generalPages: [{ key: `p${rev}`, name: { value: `rev ${rev}` }, url: '/p' }] },
    }),
    { source: 'test', kind: 'connect' },
  );

/**
 * An app with every kind of key: record (written raw: ids with glob characters are refused by
 * `apps add` today, but the store must not depend on that), schedule entry, two versions with
 * descriptors, a deployment, `n` installations (the first with maintenance windows, so the app
 * has its windowed set) with an upgrade, an approval and an "update available", and a rollout
 * with a plan bucket.
 */
async function seedApp(w: World, appId: string, n = 3): Promise<void> {
  await w.redis.hset(w.keys.app(appId), {
    id: appId,
    kind: 'connect',
    descriptorUrl: 'https://example.com/d.json',
    status: 'active',
    createdAt: String(T0),
    consecutiveFailures: '0',
    totalFailures: '0',
  });
  await w.redis.sadd(w.keys.apps(), appId);
  await w.schedule.schedule(appId, T0);
  let prev: string | null = null;
  for (const [rev, version] of ['1.0.0', '1.0.1'].entries()) {
    const d = descriptor(appId, rev);
    await w.descriptors.saveDescriptor(appId, d);
    const r = await w.versions.storeVersion(
      {
        appId,
        kind: 'connect',
        version,
        bump: prev ? 'micro' : 'initial',
        approval: 'automatic',
        reasons: [],
        warnings: [],
        descriptorHash: d.hash,
        source: 'poll',
        detectedAt: T0 + rev,
      },
      prev,
      d.canonical,
    );
    expect(r.status).toBe('created');
    prev = version;
  }
  await w.versions.recordDeploymentWithoutVersion(appId, 'dep-1');
  const insts = Array.from({ length: n }, (_, k) => ({
    id: `${appId}/i${k}`,
    appId,
    site: `s${k}.example.net`,
    products: ['jira'],
    version: '1.0.0',
    checkOffsetMs: 0,
    maintenance: k === 0 ? { timeZone: 'UTC', weekly: [{ day: 0, start: '03:00', minutes: 30 }], adHoc: [] } : null,
  }));
  await w.installs.register(insts, T0);
  expect(await w.installs.windowedCount(appId)).toBe(1);
  await w.installs.compareAndSetVersions(
    appId,
    [{ id: insts[0]!.id, expected: '1.0.0', target: '1.0.1', cause: 'automatic' }],
    T0 + 1,
  );
  expect(await w.installs.setApproved(appId, insts[1]!.id, null, '1.0.1', ['1.0.1'], T0 + 2)).toBe(true);
  expect(await w.installs.markUpdateAvailable(appId, [insts[2]!.id], '1.0.1', T0 + 3)).toBe(1);
  await w.rollouts.create({
    appId,
    version: '1.0.1',
    kind: 'connect',
    approval: 'automatic',
    bump: 'micro',
    publishedAt: T0,
    status: 'planning',
    resumeTo: null,
    createdAt: T0,
    plannedAt: null,
    summary: null,
    batches: 0,
    supersededBy: null,
  });
  expect(
    await w.rollouts.pushBuckets(appId, '1.0.1', [{ kind: 'upgrade', at: T0, ids: insts.map((i) => i.id) }], n),
  ).toBe(true);
}

/** Every key of the test but the index buckets (compared entry by entry in `crossApp`). */
async function allKeys(w: World): Promise<Set<string>> {
  const bucket = new RegExp(`^${escapeRegExp(w.prefix)}:(installations|sites-index):\\{ix:\\d+\\}:\\d+$`);
  return new Set((await keysMatching(w.redis, `${escapeGlob(w.prefix)}:*`)).filter((k) => !bucket.test(k)));
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const isAppKey = (w: World, appId: string, key: string) =>
  key === w.keys.app(appId) || key.startsWith(`${w.keys.app(appId)}:`);

/** The cross-app structures, for comparison. */
async function crossApp(w: World) {
  return {
    apps: (await w.redis.smembers(w.keys.apps())).sort(),
    schedule: (await w.redis.zrange(w.keys.pollSchedule(), 0, -1)).sort(),
    index: await indexEntries(w.redis, w.keys.prefix, 'installations'),
    sites: await indexEntries(w.redis, w.keys.prefix, 'sites-index'),
    rollouts: (await w.redis.zrange(w.keys.rollouts(), 0, -1)).sort(),
  };
}

describe('AppRemover (real Redis)', () => {
  it('escapeGlob escapes exactly the glob characters', () => {
    expect(escapeGlob('mpu:app:{a*b?[c]\\d}-e.f@g/h')).toBe('mpu:app:{a\\*b\\?\\[c\\]\\\\d}-e.f@g/h');
  });

  it.each(APPS)('removing %j deletes every key of it and nothing of the other apps', async (target) => {
    const w = await world();
    for (const id of APPS) await seedApp(w, id);
    const before = await allKeys(w);
    const cross = await crossApp(w);
    const own = [...before].filter((k) => isAppKey(w, target, k));
    // record, versions, order, deployments, 2 descriptors, 5 installation hashes (records with
    // their versions and histories…), the windowed set, the registration log, rollout, its
    // buckets hash, 1 bucket list
    expect(own).toContain(w.keys.installationWindowed(target));
    expect(own.length).toBe(16);

    expect(await w.remover.inventory(target)).toEqual({ appId: target, versions: 2, installations: 3, rollouts: 1 });
    const removed = await w.remover.remove(target, { batchSize: 2 }); // small pages: several SCAN/LRANGE rounds
    expect(removed).toEqual({
      appId: target,
      recordDeleted: true,
      keys: own.length,
      versions: 2,
      installations: 3,
      rollouts: 1,
      installationIndexEntries: 3,
      bulkUpgrades: 0,
    });

    const after = await allKeys(w);
    expect([...after].filter((k) => isAppKey(w, target, k))).toEqual([]);
    expect(await w.installs.windowedCount(target)).toBe(0);
    expect(after).toEqual(new Set([...before].filter((k) => !isAppKey(w, target, k))));
    expect(await crossApp(w)).toEqual({
      apps: cross.apps.filter((a) => a !== target),
      schedule: cross.schedule.filter((a) => a !== target),
      index: Object.fromEntries(Object.entries(cross.index).filter(([, a]) => a !== target)),
      sites: Object.fromEntries(Object.entries(cross.sites).filter(([, id]) => !id.startsWith(`${target}/`))),
      rollouts: cross.rollouts.filter((r) => r !== `${target}@1.0.1`),
    });
    expect(Object.keys((await crossApp(w)).index)).toHaveLength((APPS.length - 1) * 3);
    expect(Object.keys((await crossApp(w)).sites)).toHaveLength((APPS.length - 1) * 3);

    // Idempotent: a second run finds nothing.
    expect(await w.remover.remove(target)).toMatchObject({
      recordDeleted: false,
      keys: 0,
      versions: 0,
      installations: 0,
      rollouts: 0,
      installationIndexEntries: 0,
      bulkUpgrades: 0,
    });
  });

  it('escapes the key prefix too: a deployment whose prefix holds glob characters leaves a look-alike prefix alone', async () => {
    const base = testPrefix();
    const plain = await world(`${base}-x`);
    const globbed = await world(`${base}-?`, plain.redis);
    await seedApp(plain, 'app');
    await seedApp(globbed, 'app');
    const plainBefore = await allKeys(plain);
    expect(await globbed.remover.remove('app')).toMatchObject({ recordDeleted: true, keys: 16 });
    expect(await allKeys(plain)).toEqual(plainBefore);
    expect([...(await allKeys(globbed))].filter((k) => isAppKey(globbed, 'app', k))).toEqual([]);
  });

  it('the use case: unknown app -> app-not-found, nothing deleted; a removal is logged with the app id and its counts', async () => {
    const w = await world();
    for (const id of ['app', 'app-2']) await seedApp(w, id, 5);
    const lines: string[] = [];
    const logger = createLogger({
      destination: new Writable({ write: (c, _e, cb) => void (lines.push(String(c)), cb()) }),
    });
    const deps = { apps: w.apps, remover: w.remover, logger };
    const before = await allKeys(w);
    await expect(removeApp(deps, 'app-3')).rejects.toMatchObject({
      code: 'app-not-found',
      message: expect.stringContaining("'app-3'"),
    });
    await expect(previewAppRemoval(deps, 'ap')).rejects.toMatchObject({ code: 'app-not-found' });
    expect(await allKeys(w)).toEqual(before);

    const preview = await previewAppRemoval(deps, 'app');
    expect(preview).toMatchObject({
      app: { id: 'app', kind: 'connect' },
      inventory: { versions: 2, installations: 5, rollouts: 1 },
    });
    expect(await removeApp(deps, 'app')).toMatchObject({
      appId: 'app',
      kind: 'connect',
      versions: 2,
      installations: 5,
      rollouts: 1,
      keys: 16,
    });
    const removed = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'app:removed');
    expect(removed).toMatchObject({
      appId: 'app',
      kind: 'connect',
      versions: 2,
      installations: 5,
      rollouts: 1,
      keys: 16,
    });
    expect(removed?.msg).toMatch(/removed connect app app: 2 version\(s\), 5 installation\(s\)/);
    await expect(w.apps.getApp('app')).resolves.toBeNull();
    expect((await w.apps.listApps()).map((a) => a.id)).toEqual(['app-2']);
    expect(await w.schedule.nextDue('app')).toBeNull();
    expect(await w.installs.appOf('app/i0')).toBeNull();
    expect(await w.installs.appOf('app-2/i0')).toBe('app-2');
    await expect(w.installs.get('app/i0')).rejects.toMatchObject({ code: 'installation-not-found' });
    expect((await w.rollouts.list()).map((r) => r.id)).toEqual(['app-2@1.0.1']);
  });

  it('writes of jobs still running after the removal create nothing', async () => {
    const w = await world();
    await seedApp(w, 'late');
    await w.remover.remove('late');
    const summary: PlanSummary = {
      total: 3,
      upgrades: 3,
      notifies: 0,
      upToDate: 0,
      blocked: 0,
      buckets: 1,
      delayP50Ms: 0,
      delayP99Ms: 0,
      delayMaxMs: 0,
      lastUpgradeAt: T0,
    };
    expect(await w.rollouts.finishPlanning('late', '1.0.1', summary, 1, 'scheduled', T0)).toBeNull();
    await w.rollouts.markSuperseded('late', '1.0.2');
    expect(await w.rollouts.pushBuckets('late', '1.0.1', [{ kind: 'upgrade', at: T0, ids: ['late/i0'] }], 1)).toBe(
      false,
    );
    expect(await w.installs.setApproved('late', 'late/i1', null, '1.0.1', ['1.0.1'], T0)).toBe(false);
    expect(await w.installs.markUpdateAvailable('late', ['late/i2'], '1.0.1', T0)).toBe(0);
    expect(
      await w.installs.compareAndSetVersions(
        'late',
        [{ id: 'late/i0', expected: '1.0.0', target: '1.0.1', cause: 'automatic' }],
        T0,
      ),
    ).toBe(0);
    await w.versions.recordDeploymentWithoutVersion('late', 'dep-2');
    await expect(w.descriptors.saveDescriptor('late', descriptor('late', 3))).rejects.toMatchObject({
      code: 'app-not-found',
    });
    expect(
      await w.versions.storeVersion(
        {
          appId: 'late',
          kind: 'connect',
          version: '1.0.0',
          bump: 'initial',
          approval: 'automatic',
          reasons: [],
          warnings: [],
          descriptorHash: descriptor('late', 3).hash,
          source: 'poll',
          detectedAt: T0,
        },
        null,
      ),
    ).toEqual({ status: 'gone' });
    expect([...(await allKeys(w))].filter((k) => isAppKey(w, 'late', k))).toEqual([]);
  });

  it('removes its bulk upgrades: records, candidates, outcomes, running-set and index entries; another app keeps its own', async () => {
    const w = await world();
    const bulk = new BulkUpgradeStore(w.redis, w.keys);
    for (const id of ['app', 'app-2']) await seedApp(w, id);
    /** A running bulk upgrade of `appId` planned and half done, and a finished one. */
    const seedBulk = async (appId: string) => {
      const ids = [`${appId}-bu-run`, `${appId}-bu-done`];
      for (const [k, id] of ids.entries()) {
        expect(
          await bulk.claim(
            Object.keys(await w.redis.hgetall(w.keys.bulkUpgradesRunning())),
            {
              id,
              appId,
              environment: 'production',
              account: `acct-${appId}-${k}`,
            },
            T0,
          ),
        ).toBe(true);
        await bulk.create({
          id,
          appId,
          environment: 'production',
          account: `acct-${appId}-${k}`,
          from: 1,
          to: 2,
          fromVersion: '1.0.0',
          toVersion: '1.0.1',
          startedAt: T0 + k,
          scopeEnd: 3,
          requested: k === 0 ? null : [`${appId}/i0`],
        });
      }
      expect(await bulk.planChunk({ appId, id: ids[0]!, from: 1 }, 0, 10)).toEqual({ read: 3, candidates: 3 });
      await bulk.applyMoves(
        { appId, id: ids[0]!, toVersion: '1.0.1' },
        [{ id: `${appId}/i1`, skip: 'not-installed' }],
        T0,
        60_000,
        T0,
      );
      expect(await bulk.cancel(appId, ids[1]!, T0, 60_000, T0 + 1)).toBe('ok');
      await bulk.release(ids[1]!);
      return ids;
    };
    const [running] = await seedBulk('app');
    const others = await seedBulk('app-2');
    // A claim whose record was never written (a start that died between the two) holds a place too.
    await bulk.claim(
      Object.keys(await w.redis.hgetall(w.keys.bulkUpgradesRunning())),
      {
        id: 'app-bu-orphan',
        appId: 'app',
        environment: 'production',
        account: 'acct-orphan',
      },
      T0,
    );
    expect(Object.keys(await w.redis.hgetall(w.keys.bulkUpgradesRunning())).sort()).toEqual([
      'app-2-bu-run',
      'app-bu-orphan',
      'app-bu-run',
    ]);

    const removed = await w.remover.remove('app');
    expect(removed.bulkUpgrades).toBe(2);
    expect([...(await allKeys(w))].filter((k) => isAppKey(w, 'app', k))).toEqual([]);
    expect(Object.keys(await w.redis.hgetall(w.keys.bulkUpgradesRunning()))).toEqual(['app-2-bu-run']);
    expect(await w.redis.hgetall(w.keys.bulkUpgradeIndex())).toEqual(
      Object.fromEntries(others.map((id) => [id, 'app-2'])),
    );
    expect((await bulk.list('app-2')).records.map((r) => r.id)).toEqual([...others].reverse());
    // A batch or plan of the removed app still in flight finds it gone and writes nothing.
    expect(await bulk.planChunk({ appId: 'app', id: running!, from: 1 }, 3, 10)).toBe('stopped');
    expect(
      await bulk.applyMoves(
        { appId: 'app', id: running!, toVersion: '1.0.1' },
        [{ id: 'app/i2', skip: 'not-installed' }],
        T0,
        60_000,
        T0,
      ),
    ).toMatchObject({ state: 'stopped', moved: 0, skipped: 0 });
    expect([...(await allKeys(w))].filter((k) => isAppKey(w, 'app', k))).toEqual([]);
  });

  it('removes a large installation index page by page, leaving another app entries alone', async () => {
    const w = await world();
    await seedApp(w, 'big', 10_000);
    await seedApp(w, 'big-2', 10);
    const r = await w.remover.remove('big');
    expect(r).toMatchObject({ installations: 10_000, installationIndexEntries: 10_000 });
    expect(Object.keys(await indexEntries(w.redis, w.keys.prefix, 'installations'))).toHaveLength(10);
    expect(Object.keys(await indexEntries(w.redis, w.keys.prefix, 'sites-index'))).toHaveLength(10);
    expect(await w.installs.count('big-2')).toBe(10);
  });
});
