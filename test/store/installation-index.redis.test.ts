/**
 * The bucketed installation indexes (src/store/installation-index.ts) on a real Redis, through
 * InstallationStore and AppRemover: lookups by id (`appOf`, `get`) and by site (`onSite`) after a
 * registration, an app removal and an adoption; strings that share a digest (a digest that makes
 * every string collide, `createKeys(…, { digest })`); and the migration from the unbucketed
 * layout (src/store/migrations/indexes.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { Installation } from '../../src/rollout/types.js';
import { AppRemover } from '../../src/store/app-remover.js';
import { hash64, indexDigest, INDEX_BUCKETS } from '../../src/store/index-digest.js';
import { InstallationStore } from '../../src/store/installation-store.js';
import { createKeys, type Keys } from '../../src/store/keys.js';
import { migrateIndexes } from '../../src/store/migrations/indexes.js';
import { connectTestRedis, deleteKeysWithPrefix, indexEntries, testPrefix } from '../helpers/redis.js';

const T = Date.parse('2025-01-01T00:00:00Z');
const C = 'com.example.notes';
const F = 'ari:cloud:ecosystem::app/0f8e3c7a-5b2d-4e61-9a4f-2c7d8b1e6a35';
const inst = (id: string, appId: string, site = `${id}.example.net`, version = '1.0.0'): Installation => ({
  id,
  appId,
  site,
  products: ['jira'],
  version,
  checkOffsetMs: 60_000,
  maintenance: null,
});

/** Every string has the same digest: every entry competes for one field of one bucket. */
const collide = () => ({ bucket: 7, field: 'AAAAAAAAAAA' });

describe('bucketed installation indexes (real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  beforeEach(async () => {
    redis = await connectTestRedis();
    prefix = testPrefix();
  });
  afterEach(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });

  it('the digest is stable (stored layout): fixed values, buckets in range, 11 base64url characters', () => {
    // Changing these values moves every stored entry: a re-index (migrations/indexes.ts).
    expect(hash64('x')).toEqual([3577661240, 3760488452]);
    expect(indexDigest('bench-forge-1-000000')).toEqual({ bucket: 12573, field: 'U2MraDzzMR0' });
    for (const s of ['a', 'x\ny', 'ari:cloud:ecosystem::app/0f8e3c7a', 'é€😀']) {
      const d = indexDigest(s);
      expect(d.bucket).toBeGreaterThanOrEqual(0);
      expect(d.bucket).toBeLessThan(INDEX_BUCKETS);
      expect(d.field).toMatch(/^[A-Za-z0-9_-]{11}$/);
    }
  });

  for (const [name, opts] of [
    ['default digest', {}],
    ['every string colliding', { digest: collide }],
  ] as const) {
    describe(name, () => {
      let keys: Keys;
      let store: InstallationStore;
      beforeEach(() => {
        keys = createKeys(prefix, opts);
        store = new InstallationStore(redis, keys);
      });

      it('lookups by id and by site after registrations of several apps; a conflict is refused', async () => {
        await store.register([inst('x', 'a'), inst('y', 'a'), inst('z', 'b', 'x.example.net')], T);
        await store.register([inst('w', 'b')], T);
        expect(await store.appOf('x')).toBe('a');
        expect(await store.appOf('y')).toBe('a');
        expect(await store.appOf('z')).toBe('b');
        expect(await store.appOf('w')).toBe('b');
        expect(await store.appOf('nope')).toBeNull();
        expect((await store.get('z')).appId).toBe('b');
        expect(await store.onSite('a', 'x.example.net')).toBe('x');
        expect(await store.onSite('b', 'x.example.net')).toBe('z');
        expect(await store.onSite('a', 'w.example.net')).toBeNull();
        expect(await store.onSite('b', 'w.example.net')).toBe('w');
        await expect(store.register([inst('x', 'b')], T)).rejects.toMatchObject({
          code: 'input-invalid',
          message: 'installation x is already registered to app a',
        });
        await expect(store.register([inst('w', 'a')], T)).rejects.toMatchObject({ code: 'input-invalid' });
        // Registering again changes nothing; a new installation on a site replaces the old one there.
        expect(await store.register([inst('x', 'a')], T)).toEqual({ created: 0, updated: 1 });
        await store.register([inst('x2', 'a', 'x.example.net')], T);
        expect(await store.onSite('a', 'x.example.net')).toBe('x2');
        // A site change: the old site answers null (its entry names a record on another site).
        await store.register([inst('y', 'a', 'new.example.net')], T);
        expect(await store.onSite('a', 'new.example.net')).toBe('y');
        expect(await store.onSite('a', 'y.example.net')).toBeNull();
        expect(await store.appOf('y')).toBe('a');
      });

      it('a batch of one app with many ids: each is found', async () => {
        const batch = Array.from({ length: 300 }, (_, k) => inst(`i${k}`, 'a'));
        await store.register(batch, T);
        for (const k of [0, 1, 150, 299]) {
          expect(await store.appOf(`i${k}`)).toBe('a');
          expect(await store.onSite('a', `i${k}.example.net`)).toBe(`i${k}`);
        }
      });

      it('after an app removal: its installations are not found, the other app’s are', async () => {
        await store.register([inst('x', 'a'), inst('y', 'a')], T);
        await store.register([inst('z', 'b'), inst('w', 'b', 'x.example.net')], T);
        const removed = await new AppRemover(redis, keys).remove('a', { batchSize: 1 });
        expect(removed.installationIndexEntries).toBe(2);
        expect(await store.appOf('x')).toBeNull();
        expect(await store.onSite('a', 'x.example.net')).toBeNull();
        expect(await store.appOf('z')).toBe('b');
        expect(await store.appOf('w')).toBe('b');
        expect(await store.onSite('b', 'x.example.net')).toBe('w');
        expect(await store.onSite('b', 'z.example.net')).toBe('z');
        expect(Object.values(await indexEntries(redis, prefix, 'installations'))).toEqual(['b', 'b']);
        expect(Object.values(await indexEntries(redis, prefix, 'sites-index')).sort()).toEqual(['w', 'z']);
        // The id can be registered to another app now.
        await store.register([inst('x', 'b', 'x2.example.net')], T);
        expect(await store.appOf('x')).toBe('b');
      });

      it('after an adoption: the Forge app is found by id and site, the Connect app’s site entry is gone', async () => {
        await store.register([inst('x', C), inst('y', C)], T);
        const moves = [{ id: 'x', expected: '1.0.0', cause: 'automatic' as const }];
        expect(await store.adoptInstallations(C, F, '2.0.0', moves, T + 10)).toMatchObject({ moved: 1 });
        expect(await store.appOf('x')).toBe(F);
        expect((await store.get('x')).appId).toBe(F);
        expect(await store.onSite(F, 'x.example.net')).toBe('x');
        expect(await store.onSite(C, 'x.example.net')).toBeNull();
        expect(await store.appOf('y')).toBe(C);
        expect(await store.onSite(C, 'y.example.net')).toBe('y');
        expect(Object.values(await indexEntries(redis, prefix, 'sites-index')).sort()).toEqual(['x', 'y']);
        // Removing the Connect app leaves the adopted installation alone.
        await new AppRemover(redis, keys).remove(C);
        expect(await store.appOf('x')).toBe(F);
        expect(await store.onSite(F, 'x.example.net')).toBe('x');
        expect(await store.appOf('y')).toBeNull();
      });
    });
  }

  describe('strings sharing a digest', () => {
    let keys: Keys;
    let store: InstallationStore;
    beforeEach(() => {
      keys = createKeys(prefix, { digest: collide });
      store = new InstallationStore(redis, keys);
    });

    it('the first keeps the digest field, the next of another app gets its fallback field', async () => {
      await store.register([inst('x', 'a')], T);
      await store.register([inst('y', 'b')], T);
      const e = keys.installationIndexEntry('y');
      expect(await redis.hgetall(e.key)).toEqual({ AAAAAAAAAAA: 'a', '.y': 'b' });
      expect(await redis.hgetall(keys.siteIndexEntry('b', 'y.example.net').key)).toEqual({
        AAAAAAAAAAA: 'x',
        '.b\ny.example.net': 'y',
      });
      // Registering y again keeps its fallback entry; x keeps the digest field.
      await store.register([inst('y', 'b'), inst('x', 'a')], T);
      expect(await redis.hlen(e.key)).toBe(2);
    });

    it('an entry left without a record (a registration that failed half-way) blocks nobody', async () => {
      const e = keys.installationIndexEntry('ghost');
      await redis.hset(e.key, e.field, 'b'); // b never got ghost's record
      expect(await store.appOf('ghost')).toBeNull();
      await store.register([inst('ghost', 'a')], T);
      expect(await store.appOf('ghost')).toBe('a');
      await store.register([inst('x', 'b')], T);
      expect(await store.appOf('x')).toBe('b');
    });

    it('two ids of one app in one batch: the second gets its fallback field, so an adoption of one leaves the other', async () => {
      await store.register([inst('x', C), inst('y', C)], T);
      const e = keys.installationIndexEntry('x');
      expect(await redis.hgetall(e.key)).toEqual({ AAAAAAAAAAA: C, '.y': C });
      await store.adoptInstallations(C, F, '2.0.0', [{ id: 'x', expected: '1.0.0', cause: 'automatic' }], T + 1);
      expect(await store.appOf('x')).toBe(F);
      expect(await store.appOf('y')).toBe(C);
      expect(await store.onSite(C, 'y.example.net')).toBe('y');
      expect(await store.onSite(F, 'x.example.net')).toBe('x');
      expect(await store.onSite(C, 'x.example.net')).toBeNull();
    });
  });

  it('migrates the unbucketed indexes, page by page, dropping leftovers; a second run finds nothing', async () => {
    const keys = createKeys(prefix);
    const store = new InstallationStore(redis, keys);
    const batch = Array.from({ length: 25 }, (_, k) => inst(`i${k}`, k < 20 ? 'a' : 'b'));
    await store.register(batch, T);
    await store.register([inst('moved', 'b', 'old.example.net')], T);
    await store.register([inst('moved', 'b', 'new.example.net')], T);
    // The store as the unbucketed code left it: no buckets, the two old hashes.
    for (const which of ['installations', 'sites-index'] as const)
      for (const k of Object.keys(await indexEntries(redis, prefix, which)))
        await redis.unlink(
          (which === 'installations' ? keys.installationIndexBucket : keys.siteIndexBucket)(Number(k.split('/')[0])),
        );
    expect(await store.appOf('i0')).toBeNull();
    await redis.hset(keys.legacyInstallationIndex(), ...batch.flatMap((i) => [i.id, i.appId]), 'moved', 'b');
    await redis.hset(keys.legacyInstallationIndex(), 'half-registered', 'a'); // no record: dropped
    for (const app of ['a', 'b'])
      await redis.hset(
        keys.legacyInstallationSites(app),
        ...batch.filter((i) => i.appId === app).flatMap((i) => [i.site, i.id]),
      );
    await redis.hset(keys.legacyInstallationSites('b'), 'old.example.net', 'moved', 'new.example.net', 'moved');
    // A removed app's leftover by-site hash with an entry naming nothing.
    await redis.hset(keys.legacyInstallationSites('gone'), 's.example.net', 'i0');

    expect(await migrateIndexes(redis, keys, { count: 4 })).toEqual({
      ids: 26,
      sites: 26,
      dropped: 3, // half-registered, moved's old site, gone's entry
      keysDeleted: 4,
    });
    for (const i of batch) {
      expect(await store.appOf(i.id)).toBe(i.appId);
      expect(await store.onSite(i.appId, i.site)).toBe(i.id);
    }
    expect(await store.onSite('b', 'new.example.net')).toBe('moved');
    expect(await store.onSite('b', 'old.example.net')).toBeNull();
    expect(await store.appOf('half-registered')).toBeNull();
    // one key per command: they lie in different slots of a cluster
    for (const key of [keys.legacyInstallationIndex(), keys.legacyInstallationSites('a'), keys.indexMigration()])
      expect(await redis.exists(key)).toBe(0);
    expect(await migrateIndexes(redis, keys)).toEqual({ ids: 0, sites: 0, dropped: 0, keysDeleted: 0 });
    expect(Object.keys(await indexEntries(redis, prefix, 'installations'))).toHaveLength(26);
  });

  it('a migration resumes from the saved cursor of the key it was scanning', async () => {
    const keys = createKeys(prefix);
    const store = new InstallationStore(redis, keys);
    const batch = Array.from({ length: 600 }, (_, k) => inst(`i${k}`, 'a'));
    await store.register(batch, T);
    for (const k of Object.keys(await indexEntries(redis, prefix, 'installations')))
      await redis.unlink(keys.installationIndexBucket(Number(k.split('/')[0])));
    await redis.hset(keys.legacyInstallationIndex(), ...batch.flatMap((i) => [i.id, i.appId]));
    // A first run that stopped after a page: its cursor is saved.
    const [cursor] = await redis.hscan(keys.legacyInstallationIndex(), '0', 'COUNT', 100);
    expect(cursor).not.toBe('0');
    await redis.hset(keys.indexMigration(), keys.legacyInstallationIndex(), cursor);
    const r = await migrateIndexes(redis, keys, { count: 100 });
    expect(r.ids).toBeLessThan(600); // the pages before the cursor were not read again
    expect(r.keysDeleted).toBe(1);
    for (const key of [keys.legacyInstallationIndex(), keys.indexMigration()]) expect(await redis.exists(key)).toBe(0);
  });

  it('a refused batch leaves no index entry, even of the new ids whose entries were written first (calls of 1,000)', async () => {
    const keys = createKeys(prefix);
    const store = new InstallationStore(redis, keys);
    await store.register([inst('taken', 'other')], T);
    // 2,500 new ids, the taken one last: the fast path writes the first calls before the last one
    // finds the taken entry; the refusal deletes them again.
    const batch = [...Array.from({ length: 2500 }, (_, k) => inst(`n${k}`, 'a')), inst('taken', 'a')];
    await expect(store.register(batch, T)).rejects.toThrow(/already registered to app other/);
    expect(Object.values(await indexEntries(redis, prefix, 'installations'))).toEqual(['other']);
    expect(Object.values(await indexEntries(redis, prefix, 'sites-index'))).toHaveLength(1);
    expect(await store.appOf('n0')).toBeNull();
    expect(await store.appOf('taken')).toBe('other');
    // The same batch without the taken id registers (and uses the fast path again).
    expect(await store.register(batch.slice(0, -1), T)).toEqual({ created: 2500, updated: 0 });
    expect(await store.appOf('n2499')).toBe('a');
  });

  it('a fallback entry left alone (its digest field freed) still refuses the id to another app', async () => {
    const keys = createKeys(prefix, { digest: collide });
    const store = new InstallationStore(redis, keys);
    await store.register([inst('first', 'a')], T);
    await store.register([inst('second', 'b')], T); // digest field taken: fallback field, group marked
    expect(await redis.smembers(keys.indexFallbackMarks(7 % 256))).toContain(keys.installationIndexBucket(7));
    await new AppRemover(redis, keys).remove('a'); // frees the digest field
    expect(await store.appOf('second')).toBe('b');
    // 'second' again for another app: the digest field is free, the fallback entry names b.
    await expect(store.register([inst('second', 'c')], T)).rejects.toThrow(/already registered to app b/);
    expect(await store.appOf('second')).toBe('b');
    // Its own app again: an update.
    expect(await store.register([inst('second', 'b')], T)).toEqual({ created: 0, updated: 1 });
  });
});
