/**
 * The migration to layout 4 (src/store/migrations/windowed.ts, run by src/store/migrate.ts): a
 * store of layout 3 (records written by the store, without the windowed sets) gets, per app, the
 * set of its installations whose record has maintenance windows, with members that do not
 * belong removed; a second run changes nothing, and a store without apps is only marked.
 */
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createLogger, silentLogger } from '../../src/lib/logger.js';
import type { Installation, MaintenanceWindows } from '../../src/rollout/types.js';
import { InstallationStore } from '../../src/store/installation-store.js';
import { createKeys, type Keys } from '../../src/store/keys.js';
import { migrateStore, STORE_LAYOUT } from '../../src/store/migrate.js';
import { migrateWindowed } from '../../src/store/migrations/windowed.js';
import { defineScripts } from '../../src/store/scripts.js';
import { connectTestRedis, deleteKeysWithPrefix, testPrefix } from '../helpers/redis.js';

const T = Date.parse('2025-01-01T00:00:00Z');
const WINDOWS: MaintenanceWindows = { timeZone: 'UTC', weekly: [{ day: 2, start: '01:30', minutes: 90 }], adHoc: [] };
const inst = (appId: string, id: string, over: Partial<Installation> = {}): Installation => ({
  id,
  appId,
  site: `${id}.example.net`,
  products: ['jira'],
  version: '1.0.0',
  checkOffsetMs: 60_000,
  maintenance: null,
  ...over,
});

describe('store migration: the windowed sets (real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  let keys: Keys;
  let store: InstallationStore;
  beforeEach(async () => {
    redis = await connectTestRedis();
    prefix = testPrefix();
    keys = createKeys(prefix);
    store = new InstallationStore(redis, keys);
  });
  afterEach(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });

  /**
   * Registers app `a` (2,500 installations: every 7th with windows, every 3rd with admins, so
   * records end with either field), `b` (none with windows) and `c` (no installation), then
   * deletes the sets the registration kept: a store written before them, marked layout 3.
   * @returns the ids of `a` with windows
   */
  async function writeLayout3(): Promise<string[]> {
    const batch = Array.from({ length: 2500 }, (_, i) =>
      inst('a', `a-${i}`, {
        ...(i % 7 === 0 ? { maintenance: WINDOWS } : {}),
        ...(i % 3 === 0 ? { admins: [`admin-${i}@example.net`] } : {}),
      }),
    );
    await store.register([...batch, inst('b', 'b-0'), inst('b', 'b-1', { admins: ['x@example.net'] })], T);
    for (const app of ['a', 'b', 'c']) await redis.sadd(keys.apps(), app);
    // One key per call: on a cluster the two apps' sets are in different slots.
    for (const app of ['a', 'b']) await redis.del(keys.installationWindowed(app));
    await redis.set(keys.layout(), '3');
    return batch.filter((i) => i.maintenance !== null).map((i) => i.id);
  }

  it('builds each app’s set from its records; a second run changes nothing', async () => {
    const expected = await writeLayout3();
    expect(expected).toHaveLength(358);
    // Members that do not belong (never written by the store): an id without windows, one without a record.
    await redis.sadd(keys.installationWindowed('b'), 'b-1', 'gone');
    // Installations of an app id without an app record (registered before it): found by SCAN.
    await store.register([inst('d', 'd-0', { maintenance: WINDOWS }), inst('d', 'd-1')], T);
    await redis.del(keys.installationWindowed('d'));
    const lines: string[] = [];
    const logger = createLogger({
      destination: new Writable({ write: (c, _e, cb) => void (lines.push(String(c)), cb()) }),
    });

    expect(await migrateStore(redis, keys, logger)).toEqual({ from: 3, to: STORE_LAYOUT });
    expect(STORE_LAYOUT).toBe(4);
    expect(await redis.get(keys.layout())).toBe('4');
    expect((await store.windowedIds('a')).sort()).toEqual([...expected].sort());
    expect(await store.windowedCount('a')).toBe(358);
    expect(await redis.exists(keys.installationWindowed('b'))).toBe(0);
    expect(await store.windowedCount('c')).toBe(0);
    expect(await store.windowedIds('d')).toEqual(['d-0']);
    // Logged per app with installations (c has none).
    const logged = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.event === 'store:migrate:windowed');
    expect(logged).toMatchObject([
      { appId: 'a', records: 2500, added: 358, removed: 0, windowed: 358 },
      { appId: 'b', records: 2, added: 0, removed: 2, windowed: 0 },
      { appId: 'd', records: 2, added: 1, removed: 0, windowed: 1 },
    ]);
    expect(logged[0]!.msg).toMatch(/a: 358 of 2500 installation\(s\) with maintenance windows/);

    // The sets are kept from here on by the scripts: a registration toggling windows.
    await store.register([inst('a', 'a-0'), inst('a', 'a-1', { maintenance: WINDOWS })], T + 1);
    expect(await store.windowedCount('a')).toBe(358);

    // Again: the runner sees the layout; the migration itself finds every set exact.
    const snapshot = (await store.windowedIds('a')).sort();
    expect(await migrateStore(redis, keys, silentLogger)).toEqual({ from: 4, to: 4 });
    expect(await migrateWindowed(defineScripts(redis), keys, silentLogger, 100)).toEqual([
      { appId: 'a', records: 2500, added: 0, removed: 0, windowed: 358 },
      { appId: 'b', records: 2, added: 0, removed: 0, windowed: 0 },
      { appId: 'd', records: 2, added: 0, removed: 0, windowed: 1 },
    ]);
    expect((await store.windowedIds('a')).sort()).toEqual(snapshot);
  });

  it('a migration stopped halfway finishes when run again', async () => {
    const expected = await writeLayout3();
    // Some pages done before the stop: part of the set written.
    await defineScripts(redis).mpuSyncWindowed(
      keys.installationData('a'),
      keys.installationWindowed('a'),
      ...expected.slice(0, 100),
    );
    expect(await migrateStore(redis, keys, silentLogger)).toEqual({ from: 3, to: 4 });
    expect((await store.windowedIds('a')).sort()).toEqual([...expected].sort());
  });

  it('a store without apps is marked with the current layout and gets no set', async () => {
    expect(await migrateStore(redis, keys, silentLogger)).toEqual({ from: 1, to: STORE_LAYOUT });
    expect(await redis.get(keys.layout())).toBe(String(STORE_LAYOUT));
    expect(await migrateWindowed(defineScripts(redis), keys, silentLogger)).toEqual([]);
  });
});
