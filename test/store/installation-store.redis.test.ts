import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createKeys } from '../../src/store/keys.js';
import { InstallationStore } from '../../src/store/installation-store.js';
import type { Installation } from '../../src/rollout/types.js';
import { connectTestRedis, deleteKeysWithPrefix, testPrefix } from '../helpers/redis.js';

const inst = (id: string, appId = 'a', version = '1.0.0'): Installation => ({
  id,
  appId,
  site: `${id}.example.net`,
  products: ['jira'],
  version,
  checkOffsetMs: 0,
  maintenance: null,
});

describe('InstallationStore (real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  let store: InstallationStore;
  beforeEach(async () => {
    redis = await connectTestRedis();
    prefix = testPrefix();
    store = new InstallationStore(redis, createKeys(prefix));
  });
  afterEach(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });

  it('register is an upsert that never moves a known installation’s version', async () => {
    expect(await store.register([inst('x'), inst('y')], 1)).toEqual({ created: 2, updated: 0 });
    expect(await store.register([{ ...inst('x', 'a', '0.9.0'), site: 'new.example.net' }], 2)).toEqual({
      created: 0,
      updated: 1,
    });
    const x = await store.get('x');
    expect(x).toMatchObject({
      version: '1.0.0',
      site: 'new.example.net',
      history: [{ kind: 'registered', version: '1.0.0', at: 1 }],
    });
    expect(await store.distribution('a')).toEqual({ '1.0.0': 2 });
    await expect(store.register([inst('x', 'other')], 3)).rejects.toMatchObject({ code: 'input-invalid' });
    await expect(store.get('nope')).rejects.toMatchObject({ code: 'installation-not-found' });
  });

  it('compare-and-set: concurrent identical batches move each installation exactly once', async () => {
    const ids = Array.from({ length: 3000 }, (_, i) => `i${i}`);
    await store.register(
      ids.map((id) => inst(id)),
      1,
    );
    const moves = ids.map((id) => ({ id, expected: '1.0.0', target: '1.0.1', cause: 'automatic' as const }));
    const moved = await Promise.all(
      Array.from({ length: 5 }, (_, k) => store.compareAndSetVersions('a', moves, 10 + k)),
    );
    expect(moved.reduce((a, b) => a + b, 0)).toBe(3000);
    // a stale read (expected 1.0.0) never moves it again, nor backwards
    expect(
      await store.compareAndSetVersions(
        'a',
        [{ id: 'i1', expected: '1.0.0', target: '1.0.2', cause: 'automatic' }],
        20,
      ),
    ).toBe(0);
    expect(await store.distribution('a')).toEqual({ '1.0.1': 3000 });
    let events = 0;
    for await (const [, h] of store.scanHistory('a')) events += h.filter((e) => e.kind === 'upgraded').length;
    expect(events).toBe(3000);
  });

  it('approvals and "update available" are recorded once', async () => {
    await store.register([inst('x')], 1);
    expect(await store.setApproved('a', 'x', null, '1.2.0', ['1.1.0', '1.2.0'], 5)).toBe(true);
    expect(await store.setApproved('a', 'x', null, '1.3.0', ['1.3.0'], 6)).toBe(false); // stale
    expect(await store.markUpdateAvailable('a', ['x'], '1.1.0', 7)).toBe(1);
    expect(await store.markUpdateAvailable('a', ['x'], '1.1.0', 8)).toBe(0);
    const x = await store.get('x');
    expect(x.approvedUpTo).toBe('1.2.0');
    expect(x.history.map((e) => `${e.at}:${e.kind}`)).toEqual([
      '1:registered',
      '5:approved',
      '5:approved',
      '7:update-available',
    ]);
  });
});
