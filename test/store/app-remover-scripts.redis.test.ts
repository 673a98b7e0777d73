/**
 * unindexInstallations-1.lua on a real Redis, through AppRemover.remove: the bucketed global
 * installation index loses exactly the entries that still name the removed app (and the by-site
 * index those of its installations), and the count reported is theirs.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { Installation } from '../../src/rollout/types.js';
import { AppRemover } from '../../src/store/app-remover.js';
import { InstallationStore } from '../../src/store/installation-store.js';
import { createKeys, type Keys } from '../../src/store/keys.js';
import { connectTestRedis, deleteKeysWithPrefix, indexEntries, testPrefix } from '../helpers/redis.js';

const inst = (id: string, appId: string): Installation => ({
  id,
  appId,
  site: `${id}.example.net`,
  products: ['jira'],
  version: '1.0.0',
  checkOffsetMs: 0,
  maintenance: null,
});

describe('AppRemover scripts (real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  let keys: Keys;
  beforeEach(async () => {
    redis = await connectTestRedis();
    prefix = testPrefix();
    keys = createKeys(prefix);
  });
  afterEach(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });

  it('deletes only the index entries that still name the app, a page at a time, and counts them', async () => {
    const installs = new InstallationStore(redis, keys);
    await installs.register(
      ['a1', 'a2', 'a3', 'a4', 'a5'].map((id) => inst(id, 'a')),
      1,
    );
    await installs.register(
      ['b1', 'b2'].map((id) => inst(id, 'b')),
      1,
    );
    // an id in a's list whose index entry names another app (never written by the store, which
    // refuses it, but the script must not delete it)
    const a3 = keys.installationIndexEntry('a3');
    await redis.hset(a3.key, a3.field, 'b');
    const removed = await new AppRemover(redis, keys).remove('a', { batchSize: 2 });
    expect(removed.installationIndexEntries).toBe(4);
    expect(Object.values(await indexEntries(redis, prefix, 'installations'))).toEqual(['b', 'b', 'b']);
    expect(await redis.hget(a3.key, a3.field)).toBe('b');
    expect(await installs.appOf('b1')).toBe('b');
    expect(await installs.onSite('b', 'b2.example.net')).toBe('b2');
    // a's by-site entries are gone, b's stay
    expect(Object.values(await indexEntries(redis, prefix, 'sites-index')).sort()).toEqual(['b1', 'b2']);
    expect(await installs.count('b')).toBe(2);
  });
});
