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

  it('the windowed set follows each registration: with and without windows, with admins, toggled', async () => {
    const keys = createKeys(prefix);
    const windows = { timeZone: 'UTC', weekly: [{ day: 1, start: '02:00', minutes: 60 }], adHoc: [] };
    const admins = ['ann@example.net'];
    expect(await store.windowedCount('a')).toBe(0);
    await store.register(
      [
        inst('plain'),
        { ...inst('win'), maintenance: windows },
        { ...inst('plain-admins'), admins }, // the JSON ends with `"a":[…]}`, `"m":null` before it
        { ...inst('win-admins'), maintenance: windows, admins },
        { ...inst('other'), appId: 'b', maintenance: windows },
      ],
      1,
    );
    const raw = await redis.hget(keys.installationData('a'), 'plain-admins');
    expect(raw).toContain(',"m":null,"a":["ann@example.net"]}');
    expect(await store.windowedCount('a')).toBe(2);
    expect((await store.windowedIds('a')).sort()).toEqual(['win', 'win-admins']);
    expect(await store.windowedIds('b')).toEqual(['other']);
    // Re-registered: windows on, off, and on with admins; the version and history stay.
    await store.register(
      [
        { ...inst('plain'), maintenance: windows },
        { ...inst('win'), admins },
        { ...inst('plain-admins'), maintenance: windows, admins },
        { ...inst('win-admins') },
      ],
      2,
    );
    expect((await store.windowedIds('a')).sort()).toEqual(['plain', 'plain-admins']);
    expect(await store.get('plain')).toMatchObject({
      version: '1.0.0',
      maintenance: windows,
      history: [{ kind: 'registered', version: '1.0.0', at: 1 }],
    });
    await store.register([inst('plain'), inst('plain-admins')], 3);
    expect(await store.windowedCount('a')).toBe(0);
    expect(await redis.exists(keys.installationWindowed('a'))).toBe(0);
    // An id registered twice in one batch: the last record wins, and so does the set.
    await store.register([{ ...inst('win'), maintenance: windows }, inst('win')], 4);
    expect(await store.windowedCount('a')).toBe(0);
    await store.register([inst('new'), { ...inst('new'), maintenance: windows }], 5);
    expect(await store.windowedIds('a')).toEqual(['new']);
    // Strings holding the no-windows pattern are escaped in the JSON (`\"`): they never fool it.
    const tricky = ',"m":null,';
    await store.register(
      [
        { ...inst('tricky'), site: `s${tricky}"a":[]}`, products: [tricky, ',"m":null}'], maintenance: windows },
        { ...inst('tricky-admins'), maintenance: windows, admins: [`x${tricky}`, ',"m":null}'] },
      ],
      6,
    );
    expect((await store.windowedIds('a')).sort()).toEqual(['new', 'tricky', 'tricky-admins']);
    // The set names exactly the records whose windows are not null.
    for (const app of ['a', 'b']) {
      const withWindows = Object.entries(await redis.hgetall(keys.installationData(app)))
        .filter(([, v]) => (JSON.parse(v.split('\x1f')[1]!) as { m: unknown }).m !== null)
        .map(([id]) => id);
      expect((await store.windowedIds(app)).sort()).toEqual(withWindows.sort());
    }
    expect(await store.windowedCount('unknown-app')).toBe(0);
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
