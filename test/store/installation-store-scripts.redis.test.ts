/**
 * The installation store's scripts on a real Redis, through the store methods that run them:
 * registerInstallations-6.lua (register), ackRegistrations-1.lua (ackRegistrations),
 * compareAndSetVersions-4.lua (compareAndSetVersions, applyMoves), readPlanChunk-4.lua (readChunk /
 * readPlanChunk), approveInstallation-3.lua (setApproved) and markUpdateAvailable-3.lua (markUpdateAvailable).
 * Also proves that the history entries the scripts build themselves are exactly those of
 * src/rollout/installation-history.ts. readRangeStates (native commands, no script) is read here
 * beside readPlanChunk, with and without approvals.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import {
  encodeHistory,
  encodeHistoryEntry,
  parseHistory,
  type HistoryEntry,
} from '../../src/rollout/installation-history.js';
import type { Installation } from '../../src/rollout/types.js';
import { InstallationStore } from '../../src/store/installation-store.js';
import { createKeys, type Keys } from '../../src/store/keys.js';
import { connectTestRedis, deleteKeysWithPrefix, testPrefix } from '../helpers/redis.js';

const T = Date.parse('2025-01-01T00:00:00Z');
const inst = (id: string, version = '1.0.0', over: Partial<Installation> = {}): Installation => ({
  id,
  appId: 'a',
  site: `${id}.example.net`,
  products: ['jira'],
  version,
  checkOffsetMs: 60_000,
  maintenance: null,
  ...over,
});

describe('InstallationStore scripts (real Redis)', () => {
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

  describe('registerInstallations-6.lua and ackRegistrations-1.lua', () => {
    it('new installations take consecutive positions, logged once per call; known ones keep versions', async () => {
      expect(await store.register([inst('x'), inst('y', '1.0.1')], T)).toEqual({ created: 2, updated: 0 });
      const again = [inst('y', '0.1.0', { site: 'moved.example.net' }), inst('z')];
      expect(await store.register(again, T + 1)).toEqual({ created: 1, updated: 1 });
      expect(await store.register([inst('x')], T + 2)).toEqual({ created: 0, updated: 1 });
      expect(await redis.lrange(keys.installationIds('a'), 0, -1)).toEqual(['x', 'y', 'z']);
      expect(await store.distribution('a')).toEqual({ '1.0.0': 2, '1.0.1': 1 });
      expect(await store.get('y')).toMatchObject({ version: '1.0.1', site: 'moved.example.net' });
      // only calls that created installations are logged
      expect(await store.pendingRegistrations('a', 10)).toEqual([
        { start: 0, end: 1, at: T, entry: `0|1|${T}` },
        { start: 2, end: 2, at: T + 1, entry: `2|2|${T + 1}` },
      ]);
    });

    it('ack: drops handled entries once, only while the first is still the one read', async () => {
      await store.register([inst('x')], T);
      await store.register([inst('y')], T + 1);
      await store.register([inst('z')], T + 2);
      expect(await store.ackRegistrations('a', `0|0|${T}`, 2)).toBe(true);
      expect(await store.ackRegistrations('a', `0|0|${T}`, 2)).toBe(false);
      expect((await store.pendingRegistrations('a', 10)).map((p) => p.start)).toEqual([2]);
    });

    it('the history entries the script builds are encodeHistory’s, registration and both upgrade causes', async () => {
      await store.register([inst('x'), inst('y', '1.0.0-rc.1')], T);
      await store.compareAndSetVersions(
        'a',
        [
          { id: 'x', expected: '1.0.0', target: '1.0.1', cause: 'automatic' },
          { id: 'y', expected: '1.0.0-rc.1', target: '2.0.0', cause: 'approval' },
        ],
        T + 1,
      );
      expect(await redis.hgetall(keys.installationHistory('a'))).toEqual({
        x: encodeHistory([
          { at: T, kind: 'registered', version: '1.0.0' },
          { at: T + 1, kind: 'upgraded', from: '1.0.0', to: '1.0.1', cause: 'automatic' },
        ]),
        y: encodeHistory([
          { at: T, kind: 'registered', version: '1.0.0-rc.1' },
          { at: T + 1, kind: 'upgraded', from: '1.0.0-rc.1', to: '2.0.0', cause: 'approval' },
        ]),
      });
    });
  });

  describe('compareAndSetVersions-4.lua', () => {
    it('moves only installations still on the expected version; the distribution follows', async () => {
      await store.register([inst('x'), inst('y'), inst('z', '1.0.1')], T);
      const moved = await store.compareAndSetVersions(
        'a',
        [
          { id: 'x', expected: '1.0.0', target: '1.0.2', cause: 'automatic' },
          { id: 'y', expected: '0.9.0', target: '1.0.2', cause: 'automatic' }, // stale read
          { id: 'z', expected: '1.0.1', target: '1.0.2', cause: 'automatic' },
          { id: 'nope', expected: '1.0.0', target: '1.0.2', cause: 'automatic' },
        ],
        T + 1,
      );
      expect(moved).toBe(2);
      expect(await store.distribution('a')).toEqual({ '1.0.0': 1, '1.0.2': 2 });
      expect((await store.get('y')).history).toEqual([{ at: T, kind: 'registered', version: '1.0.0' }]);
      expect(await redis.hexists(keys.installationVersion('a'), 'nope')).toBe(0);
    });

    it('a planned deferral is appended before the upgrade it deferred, once, as encodeHistoryEntry wrote it', async () => {
      await store.register([inst('x'), inst('y')], T);
      const deferred: HistoryEntry = {
        at: T + 10,
        kind: 'deferred',
        version: '1.0.1',
        until: T + 3_600_010,
        window: { kind: 'weekly', day: 3, start: '01:00', minutes: 120, timeZone: 'Europe/Berlin' },
      };
      await store.recordDeferrals('a', '1.0.1', new Map([['x', encodeHistoryEntry(deferred)]]));
      const moves = (['x', 'y'] as const).map((id) => ({
        id,
        expected: '1.0.0',
        target: '1.0.1',
        cause: 'automatic' as const,
      }));
      expect(await store.applyMoves('a', moves, T + 3_600_010, '1.0.1')).toEqual({ moved: 2, deferred: 1 });
      expect(await store.applyMoves('a', moves, T + 3_600_020, '1.0.1')).toEqual({ moved: 0, deferred: 0 });
      const raw = await redis.hget(keys.installationHistory('a'), 'x');
      expect(raw).toBe(
        encodeHistory([
          { at: T, kind: 'registered', version: '1.0.0' },
          deferred,
          { at: T + 3_600_010, kind: 'upgraded', from: '1.0.0', to: '1.0.1', cause: 'automatic' },
        ]),
      );
      expect(parseHistory(raw)[1]).toEqual(deferred);
      expect((await store.get('y')).history.map((e) => e.kind)).toEqual(['registered', 'upgraded']);
    });
  });

  describe('readRangeStates and readPlanChunk-4.lua', () => {
    it('read ids by position with versions, approvals and records ("" / null where absent)', async () => {
      await store.register([inst('x'), inst('y', '1.0.1'), inst('z')], T);
      await store.setApproved('a', 'y', null, '2.0.0', ['2.0.0'], T + 1);
      await redis.rpush(keys.rolloutBucket('a', '2.0.0', 'upgrade', T), 'x', 'y', 'ghost', 'z');
      expect(await store.readRangeStates('a', keys.rolloutBucket('a', '2.0.0', 'upgrade', T), 1, 2)).toEqual({
        ids: ['y', 'ghost'],
        versions: ['1.0.1', null],
        approved: ['2.0.0', null],
      });
      // a position whose id has no record is read (counted) but yields no input
      await redis.rpush(keys.installationIds('a'), 'ghost');
      const chunk = await store.readChunk('a', 1, 10);
      expect(chunk.read).toBe(3);
      expect(chunk.inputs).toEqual([
        { id: 'y', version: '1.0.1', checkOffsetMs: 60_000, maintenance: null, approvedUpTo: '2.0.0', position: 1 },
        { id: 'z', version: '1.0.0', checkOffsetMs: 60_000, maintenance: null, approvedUpTo: null, position: 2 },
      ]);
      expect(await store.readChunk('a', 10, 5)).toEqual({ read: 0, inputs: [] });
      expect(await store.readRangeStates('a', keys.rolloutBucket('a', '2.0.0', 'upgrade', T), 9, 12)).toEqual({
        ids: [],
        versions: [],
        approved: [],
      });
    });

    it('read an app without any approval: approvals are null, and records with windows keep them', async () => {
      const windows = { timeZone: 'Europe/Berlin', weekly: [{ day: 6, start: '00:00', minutes: 480 }], adHoc: [] };
      await store.register([inst('x'), { ...inst('y', '1.0.1'), checkOffsetMs: 0, maintenance: windows }], T);
      await redis.rpush(keys.rolloutBucket('a', '2.0.0', 'upgrade', T), 'y', 'ghost', 'x');
      expect(await store.readRangeStates('a', keys.rolloutBucket('a', '2.0.0', 'upgrade', T), 0, 5)).toEqual({
        ids: ['y', 'ghost', 'x'],
        versions: ['1.0.1', null, '1.0.0'],
        approved: [null, null, null],
      });
      expect((await store.readChunk('a', 0, 5)).inputs).toEqual([
        { id: 'x', version: '1.0.0', checkOffsetMs: 60_000, maintenance: null, approvedUpTo: null, position: 0 },
        { id: 'y', version: '1.0.1', checkOffsetMs: 0, maintenance: windows, approvedUpTo: null, position: 1 },
      ]);
    });
  });

  describe('approveInstallation-3.lua', () => {
    it('1: sets approvedUpTo from the value read and appends one entry per version approved', async () => {
      await store.register([inst('x')], T);
      expect(await store.setApproved('a', 'x', null, '1.2.0', ['1.1.0', '1.2.0'], T + 5)).toBe(true);
      expect(await store.setApproved('a', 'x', '1.2.0', '1.3.0', [], T + 6)).toBe(true);
      const x = await store.get('x');
      expect(x.approvedUpTo).toBe('1.3.0');
      expect(await redis.hget(keys.installationHistory('a'), 'x')).toBe(
        encodeHistory([
          { at: T, kind: 'registered', version: '1.0.0' },
          { at: T + 5, kind: 'approved', version: '1.1.0' },
          { at: T + 5, kind: 'approved', version: '1.2.0' },
        ]),
      );
    });

    it('1: writes the first history entries of an installation that had none', async () => {
      await store.register([inst('x')], T);
      await redis.hdel(keys.installationHistory('a'), 'x');
      expect(await store.setApproved('a', 'x', null, '1.1.0', ['1.1.0'], T + 5)).toBe(true);
      expect(await redis.hget(keys.installationHistory('a'), 'x')).toBe(`${T + 5}|a|1.1.0`);
    });

    it('0: a stale approvedUpTo, or an installation not registered (nothing written)', async () => {
      await store.register([inst('x')], T);
      await store.setApproved('a', 'x', null, '1.2.0', ['1.2.0'], T + 5);
      expect(await store.setApproved('a', 'x', null, '1.3.0', ['1.3.0'], T + 6)).toBe(false);
      expect(await store.setApproved('a', 'ghost', null, '1.3.0', ['1.3.0'], T + 6)).toBe(false);
      expect((await store.get('x')).approvedUpTo).toBe('1.2.0');
      expect(await redis.hexists(keys.installationApproved('a'), 'ghost')).toBe(0);
      expect(await redis.hexists(keys.installationHistory('a'), 'ghost')).toBe(0);
    });
  });

  describe('markUpdateAvailable-3.lua', () => {
    it('marks each registered installation once per version, with one history entry', async () => {
      await store.register([inst('x'), inst('y')], T);
      expect(await store.markUpdateAvailable('a', ['x', 'y', 'ghost'], '2.0.0', T + 1)).toBe(2);
      expect(await store.markUpdateAvailable('a', ['x', 'y'], '2.0.0', T + 2)).toBe(0);
      expect(await store.markUpdateAvailable('a', ['x'], '2.1.0', T + 3)).toBe(1);
      expect(await store.markUpdateAvailable('a', [], '2.1.0', T + 3)).toBe(0);
      expect((await store.get('x')).updateAvailable).toBe('2.1.0');
      expect(await redis.hget(keys.installationHistory('a'), 'x')).toBe(
        encodeHistory([
          { at: T, kind: 'registered', version: '1.0.0' },
          { at: T + 1, kind: 'update-available', version: '2.0.0' },
          { at: T + 3, kind: 'update-available', version: '2.1.0' },
        ]),
      );
      expect(await redis.hexists(keys.installationAvailable('a'), 'ghost')).toBe(0);
    });
  });
});
