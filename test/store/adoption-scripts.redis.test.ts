/**
 * The adoption's scripts (releaseAdoptions-8.lua, receiveAdoptions-6.lua) on a real Redis (InstallationStore.adoptInstallations): a Connect
 * installation moves to the Forge app adopting its app by a compare-and-set on its Connect
 * version, exactly once per adoption, with both apps' distributions, the index, the Forge
 * registration log and a `moved` history entry that decodes in src/rollout/installation-history.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { Installation } from '../../src/rollout/types.js';
import { InstallationStore } from '../../src/store/installation-store.js';
import { createKeys, type Keys } from '../../src/store/keys.js';
import { defineScripts, type ScriptedRedis } from '../../src/store/scripts.js';
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
  let redis: Redis & ScriptedRedis;
  let prefix: string;
  let keys: Keys;
  let store: InstallationStore;
  beforeEach(async () => {
    redis = defineScripts(await connectTestRedis()) as Redis & ScriptedRedis;
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

  it('the windowed sets follow the move: the Connect app loses the installation, the Forge app gains it', async () => {
    const windows = { timeZone: 'Europe/Berlin', weekly: [{ day: 6, start: '22:00', minutes: 120 }], adHoc: [] };
    await store.register(
      [
        { ...inst('x', '1.0.0'), maintenance: windows },
        { ...inst('w', '1.0.0'), maintenance: windows, admins: ['ann@example.net'] }, // stays
      ],
      T + 1,
    );
    expect((await store.windowedIds(C)).sort()).toEqual(['w', 'x']);
    const moves = ['x', 'y', 'z'].map((id) => ({ id, expected: '1.1.0', cause: 'automatic' as const }));
    moves[0]!.expected = '1.0.0';
    expect(await store.adoptInstallations(C, F, '2.0.0', moves, T + 10)).toEqual({ moved: 3, conflicts: 0, done: 0 });
    expect(await store.windowedIds(C)).toEqual(['w']);
    expect(await store.windowedIds(F)).toEqual(['x']); // y and z have no windows
    expect((await store.get('x')).maintenance).toEqual(windows);
    // Redelivered: nothing changes on either side.
    expect(await store.adoptInstallations(C, F, '2.0.0', moves, T + 20)).toEqual({ moved: 0, conflicts: 0, done: 3 });
    expect(await store.windowedCount(C)).toBe(1);
    expect(await store.windowedCount(F)).toBe(1);
  });

  it('a move left pending by a crash between the two sides joins the Forge set when it is delivered', async () => {
    const windows = { timeZone: 'UTC', weekly: [], adHoc: [{ start: T, end: T + 3_600_000 }] };
    await store.register([{ ...inst('x', '1.0.0'), maintenance: windows }], T + 1);
    // Step 1 alone (the Connect side), as if the daemon died before step 2.
    await redis.mpuReleaseAdoptions(
      keys.installationData(C),
      keys.installationApproved(C),
      keys.installationAvailable(C),
      keys.versionDistribution(C),
      keys.installationsLeft(C),
      keys.adoptionReleased(C, F, '2.0.0'),
      keys.adoptionPending(C, F, '2.0.0'),
      keys.installationWindowed(C),
      T + 10,
      C,
      F,
      '2.0.0',
      'x\t1.0.0\ta\n',
    );
    expect(await store.windowedCount(C)).toBe(0);
    expect(await store.windowedCount(F)).toBe(0);
    // The next call for the adoption delivers it.
    expect(await store.adoptInstallations(C, F, '2.0.0', [], T + 20)).toEqual({ moved: 0, conflicts: 0, done: 0 });
    expect(await store.windowedIds(F)).toEqual(['x']);
    expect(await store.appOf('x')).toBe(F);
  });
});
