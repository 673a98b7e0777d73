/**
 * The adoption's scripts (releaseAdoptions-7.lua, receiveAdoptions-5.lua) on a real Redis (InstallationStore.adoptInstallations): a Connect
 * installation moves to the Forge app adopting its app by a compare-and-set on its Connect
 * version, exactly once per adoption, with both apps' distributions, the index, the Forge
 * registration log and a `moved` history entry that decodes in src/rollout/installation-history.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { Installation } from '../../src/rollout/types.js';
import { InstallationStore } from '../../src/store/installation-store.js';
import { createKeys, type Keys } from '../../src/store/keys.js';
import { connectTestRedis, deleteKeysWithPrefix, testPrefix } from '../helpers/redis.js';

const T = Date.parse('2025-01-01T00:00:00Z');
const C = 'com.example.notes';
const F = 'ari:cloud:ecosystem::app/0f8e3c7a-5b2d-4e61-9a4f-2c7d8b1e6a35';
const inst = (id: string, version: string): Installation => ({
  id,
  appId: C,
  site: `${id}.example.net`,
  products: ['jira'],
  version,
  checkOffsetMs: 60_000,
  maintenance: null,
});

describe('adoption scripts (real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  let keys: Keys;
  let store: InstallationStore;
  beforeEach(async () => {
    redis = await connectTestRedis();
    prefix = testPrefix();
    keys = createKeys(prefix);
    store = new InstallationStore(redis, keys);
    await store.register([inst('x', '1.0.0'), inst('y', '1.1.0'), inst('z', '1.1.0')], T);
  });
  afterEach(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });

  it('moves only from the expected Connect version, once; distributions, index, log and history follow', async () => {
    const moves = [
      { id: 'x', expected: '1.0.0', cause: 'automatic' as const },
      { id: 'y', expected: '1.0.0', cause: 'automatic' as const }, // runs 1.1.0: a conflict
      { id: 'z', expected: '1.1.0', cause: 'approval' as const },
    ];
    expect(await store.adoptInstallations(C, F, '2.0.0', moves, T + 10)).toEqual({ moved: 2, conflicts: 1, done: 0 });
    // Redelivered: nothing moves again, even once the Connect version would match.
    expect(await store.adoptInstallations(C, F, '2.0.0', moves, T + 20)).toEqual({ moved: 0, conflicts: 1, done: 2 });
    expect(await store.distribution(C)).toEqual({ '1.1.0': 1 });
    expect(await store.distribution(F)).toEqual({ '2.0.0': 2 });
    expect(await store.appOf('x')).toBe(F);
    expect(await store.appOf('y')).toBe(C);
    expect(await store.adoptedCount(F, '2.0.0')).toBe(2);
    const x = await store.get('x');
    expect(x).toMatchObject({ appId: F, version: '2.0.0', site: 'x.example.net' });
    const moved = {
      at: T + 10,
      kind: 'moved',
      from: { appId: C, version: '1.0.0' },
      to: { appId: F, version: '2.0.0' },
      cause: 'automatic',
    };
    expect(x.history).toEqual([{ at: T, kind: 'registered', version: '1.0.0' }, moved]);
    expect((await store.get('z')).history.at(-1)).toMatchObject({ kind: 'moved', cause: 'approval' });
    // The Connect app keeps the move in its history; its list skips the moved ids.
    const connectHistory = new Map<string, unknown>();
    for await (const [id, h] of store.scanHistory(C)) connectHistory.set(id, h.at(-1));
    expect(connectHistory.get('x')).toEqual(moved);
    expect((await store.list(C, 0, 10)).map((i) => i.id)).toEqual(['y']);
    // Received from the adoption's pending hash, whose order Redis does not promise.
    expect((await store.list(F, 0, 10)).map((i) => i.id).sort()).toEqual(['x', 'z']);
    // Logged for the Forge app's late planner like a registration.
    expect(await store.pendingRegistrations(F, 10)).toMatchObject([{ start: 0, end: 1, at: T + 10 }]);
  });
});
