/**
 * The migration to one record per installation (src/store/migrations/records.ts, run by
 * src/store/migrate.ts): a store written in the old layout (three hashes per app: `inst:data`
 * JSON, `inst:version`, `inst:history`, written here directly) is migrated; every installation
 * keeps its version and history, the histories of installations that left the app stay readable,
 * the old keys are gone, and a second run changes nothing. A migration stopped halfway (some
 * records merged) finishes. The later migrations run too: the records with maintenance windows
 * end in their app's windowed set (migrations/windowed.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { silentLogger } from '../../src/lib/logger.js';
import { InstallationStore } from '../../src/store/installation-store.js';
import { createKeys, type Keys } from '../../src/store/keys.js';
import { migrateStore, STORE_LAYOUT } from '../../src/store/migrate.js';
import { migrateRecords, oldHistoryKey, oldVersionKey } from '../../src/store/migrations/records.js';
import { defineScripts } from '../../src/store/scripts.js';
import { connectTestRedis, deleteKeysWithPrefix, testPrefix } from '../helpers/redis.js';

const T = Date.parse('2025-01-01T00:00:00Z');
const WINDOWS = { timeZone: 'UTC', weekly: [{ day: 3, start: '04:00', minutes: 60 }], adHoc: [] };
const json = (site: string, m: typeof WINDOWS | null = null) => JSON.stringify({ s: site, p: ['jira'], c: 60_000, m });

describe('store migration: one record per installation (real Redis)', () => {
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

  /** Writes `n` installations of app `a` in the old layout, plus a few odd entries. */
  async function writeOldLayout(app: string, n: number): Promise<void> {
    const data: string[] = [];
    const ver: string[] = [];
    const hist: string[] = [];
    const index: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = `${app}-${i}`;
      data.push(id, json(`${id}.example.net`, i % 10 === 3 ? WINDOWS : null));
      ver.push(id, i % 2 ? '1.0.1' : '1.0.0');
      hist.push(id, i % 2 ? `${T}|i|1.0.0;${T + 1}|u|1.0.0|1.0.1|a` : `${T}|i|1.0.0`);
      index.push(id, app);
    }
    // An installation without history (the record gets an empty one).
    data.push(`${app}-nohist`, json('nohist.example.net'));
    ver.push(`${app}-nohist`, '1.0.0');
    // A record without a version (no reader showed it): dropped, so not in the windowed set.
    data.push(`${app}-orphan`, json('orphan.example.net', WINDOWS));
    // A version without a record, and the history of an installation that left by an adoption.
    ver.push(`${app}-ghost`, '1.0.0');
    hist.push(`${app}-left`, `${T}|i|0.9.0;${T + 2}|m|${app}@0.9.0|forge@2.0.0|a`);
    await redis.sadd(keys.apps(), app);
    await redis.rpush(keys.installationIds(app), ...data.filter((_, k) => k % 2 === 0));
    await redis.hset(keys.installationData(app), ...data);
    await redis.hset(oldVersionKey(keys, app), ...ver);
    await redis.hset(oldHistoryKey(keys, app), ...hist);
    await redis.hset(keys.legacyInstallationIndex(), ...index, `${app}-nohist`, app);
  }

  it('every installation keeps its version and history; the second run changes nothing', async () => {
    await writeOldLayout('a', 2500);
    await writeOldLayout('b', 3);
    // Stopped halfway before: one record already merged, its old fields deleted.
    await defineScripts(redis).mpuMigrateRecords(
      keys.installationData('a'),
      oldVersionKey(keys, 'a'),
      oldHistoryKey(keys, 'a'),
      keys.installationsLeft('a'),
      'records',
      'a-1',
    );
    expect(await redis.get(keys.layout())).toBeNull();

    expect(await migrateStore(redis, keys, silentLogger)).toEqual({ from: 1, to: STORE_LAYOUT });
    expect(await redis.get(keys.layout())).toBe(String(STORE_LAYOUT));
    for (const app of ['a', 'b']) {
      expect(await redis.exists(oldVersionKey(keys, app), oldHistoryKey(keys, app))).toBe(0);
    }
    expect(await redis.hlen(keys.installationData('a'))).toBe(2501);
    expect(await store.get('a-0')).toMatchObject({
      version: '1.0.0',
      site: 'a-0.example.net',
      history: [{ at: T, kind: 'registered', version: '1.0.0' }],
    });
    for (const id of ['a-1', 'a-2499']) {
      expect(await store.get(id)).toMatchObject({
        version: '1.0.1',
        history: [
          { at: T, kind: 'registered', version: '1.0.0' },
          { at: T + 1, kind: 'upgraded', from: '1.0.0', to: '1.0.1', cause: 'automatic' },
        ],
      });
    }
    expect(await store.get('a-nohist')).toMatchObject({ version: '1.0.0', history: [] });
    expect(await redis.hexists(keys.installationData('a'), 'a-orphan')).toBe(0);
    // The windowed sets, built from the merged records.
    expect(await store.windowedCount('a')).toBe(250);
    expect(await redis.sismember(keys.installationWindowed('a'), 'a-2493')).toBe(1);
    expect(await redis.sismember(keys.installationWindowed('a'), 'a-orphan')).toBe(0);
    expect((await store.get('a-13')).maintenance).toEqual(WINDOWS);
    expect(await store.windowedIds('b')).toEqual([]);
    const histories = new Map<string, unknown[]>();
    for await (const [id, h] of store.scanHistory('a')) histories.set(id, h);
    expect(histories.size).toBe(2502); // 2,501 records and the one that left
    expect(histories.get('a-left')).toEqual([
      { at: T, kind: 'registered', version: '0.9.0' },
      {
        at: T + 2,
        kind: 'moved',
        from: { appId: 'a', version: '0.9.0' },
        to: { appId: 'forge', version: '2.0.0' },
        cause: 'automatic',
      },
    ]);
    // The migrated records work with the new code: an upgrade appends to the history.
    expect(
      await store.compareAndSetVersions(
        'b',
        [{ id: 'b-nohist', expected: '1.0.0', target: '1.0.1', cause: 'automatic' }],
        T + 5,
      ),
    ).toBe(1);
    expect((await store.get('b-nohist')).history).toEqual([
      { at: T + 5, kind: 'upgraded', from: '1.0.0', to: '1.0.1', cause: 'automatic' },
    ]);

    // Again: the runner sees the layout and does nothing; the migration itself finds nothing to do.
    const snapshot = await redis.hgetall(keys.installationData('a'));
    expect(await migrateStore(redis, keys, silentLogger)).toEqual({ from: STORE_LAYOUT, to: STORE_LAYOUT });
    expect(await migrateRecords(defineScripts(redis), keys, silentLogger)).toEqual([]);
    expect(await redis.hgetall(keys.installationData('a'))).toEqual(snapshot);
  });

  it('a fresh store is marked with the current layout and nothing else is written', async () => {
    expect(await migrateStore(redis, keys, silentLogger)).toEqual({ from: 1, to: STORE_LAYOUT });
    expect(await redis.get(keys.layout())).toBe(String(STORE_LAYOUT));
  });
});
