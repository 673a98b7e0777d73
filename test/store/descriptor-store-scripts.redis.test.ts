/**
 * saveDescriptor-2.lua on a real Redis, through DescriptorStore.saveDescriptor: stored,
 * stored already (write-once), and an unregistered app (app-not-found, nothing stored).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { AppStore } from '../../src/store/app-store.js';
import { DescriptorStore } from '../../src/store/descriptor-store.js';
import { createKeys, type Keys } from '../../src/store/keys.js';
import { parseDescriptor } from '../../src/versioning/index.js';
import { connectTestRedis, deleteKeysWithPrefix, testPrefix } from '../helpers/redis.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const descriptor = (name: string) =>
  parseDescriptor(
    JSON.stringify({
      key: 'a',
      baseUrl: 'https://example.com',
      authentication: { type: 'jwt' },
      modules: { generalPages: [{ key: 'p', name: { value: name }, url: '/p' }] },
    }),
    { source: 'test', kind: 'connect' },
  );

describe('DescriptorStore scripts (real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  let keys: Keys;
  let descriptors: DescriptorStore;
  beforeEach(async () => {
    redis = await connectTestRedis();
    prefix = testPrefix();
    keys = createKeys(prefix);
    descriptors = new DescriptorStore(redis, keys);
    await new AppStore(redis, keys).addConnectApp({ id: 'a', descriptorUrl: 'https://example.com/a.json', now: T0 });
  });
  afterEach(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });

  it('stores the canonical text under its hash, write-once', async () => {
    const d = descriptor('one');
    expect(await descriptors.saveDescriptor('a', d)).toBe(d.hash);
    expect(await descriptors.getDescriptorText('a', d.hash)).toBe(d.canonical);
    // stored already: the same hash is returned and the text is not rewritten
    await redis.set(keys.descriptor('a', d.hash), 'sentinel');
    expect(await descriptors.saveDescriptor('a', d)).toBe(d.hash);
    expect(await descriptors.getDescriptorText('a', d.hash)).toBe('sentinel');
  });

  it('app-not-found for an unregistered app, and nothing is stored', async () => {
    const d = descriptor('two');
    await redis.del(keys.app('a'));
    await expect(descriptors.saveDescriptor('a', d)).rejects.toMatchObject({
      code: 'app-not-found',
      details: { appId: 'a' },
    });
    expect(await redis.exists(keys.descriptor('a', d.hash))).toBe(0);
  });
});
