/**
 * The installation store's scripts on a real Redis, through the store methods that run them:
 * registerInstallations-5.lua (register), ackRegistrations-1.lua (ackRegistrations),
 * compareAndSetVersions-3.lua (compareAndSetVersions, applyMoves), upgradeRange-5.lua
 * (upgradeRange, the upgrade batch's fast path), readPlanChunk-3.lua (readChunk / readPlanChunk),
 * approveInstallation-2.lua (setApproved), markUpdateAvailable-2.lua (markUpdateAvailable) and
 * migrateRecords-4.lua (the migration to one record per installation, migrations/records.ts).
 * Also proves that the history entries the scripts build themselves are exactly those of
 * src/rollout/installation-history.ts, at the end of each installation's record
 * (`<version>\x1f<JSON>\x1f<history>`, installation-record.ts). readRangeStates (native
 * commands, no script) is read here beside readPlanChunk, with and without approvals, and so is
 * readLateInputs (the reconciliation sweep's read of late installations).
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
import { splitRecord } from '../../src/store/installation-record.js';
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
  /** The raw history part of an installation's record (undefined when it has no record). */
  const historyOf = async (id: string) => splitRecord(await redis.hget(keys.installationData('a'), id))?.history;

  describe('registerInstallations-5.lua and ackRegistrations-1.lua', () => {
    it('new installations take consecutive positions, logged once per call; known ones keep versions', async () => {
      expect(await store.register([inst('x'), inst('y', '1.0.1')], T)).toEqual({ created: 2, updated: 0 });
      const again = [inst('y', '0.1.0', { site: 'moved.example.net' }), inst('z')];
      expect(await store.register(again, T + 1)).toEqual({ created: 1, updated: 1 });
      expect(await store.register([inst('x')], T + 2)).toEqual({ created: 0, updated: 1 });
      expect(await redis.lrange(keys.installationIds('a'), 0, -1)).toEqual(['x', 'y', 'z']);
      expect(await store.distribution('a')).toEqual({ '1.0.0': 2, '1.0.1': 1 });
      expect(await store.get('y')).toMatchObject({ version: '1.0.1', site: 'moved.example.net' });
      // One field: the version, the record JSON (replaced by the upsert), the history (kept).
      expect(await redis.hget(keys.installationData('a'), 'y')).toBe(
        `1.0.1\x1f{"s":"moved.example.net","p":["jira"],"c":60000,"m":null}\x1f${T}|i|1.0.1`,
      );
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
      expect({ x: await historyOf('x'), y: await historyOf('y') }).toEqual({
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

  describe('compareAndSetVersions-3.lua', () => {
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
      expect(await redis.hexists(keys.installationData('a'), 'nope')).toBe(0);
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
      const raw = await historyOf('x');
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

  describe('upgradeRange-5.lua', () => {
    const targets = new Map([
      ['1.0.0', { target: '1.1.0', cause: 'automatic' as const }],
      ['1.1.0', { target: null, cause: 'automatic' as const }],
    ]);
    it('moves a bucket range by the version map: entries as encodeHistoryEntry writes them, once, deferral first', async () => {
      await store.register([inst('x'), inst('y'), inst('z', '0.5.0'), inst('w', '1.1.0')], T);
      const deferred: HistoryEntry = {
        at: T + 1,
        kind: 'deferred',
        version: '1.1.0',
        until: T + 2,
        window: { kind: 'ad-hoc', start: T, end: T + 2 },
      };
      await store.recordDeferrals('a', '1.1.0', new Map([['y', encodeHistoryEntry(deferred)]]));
      const list = keys.rolloutBucket('a', '1.1.0', 'upgrade', T);
      // 'x' twice (a list written twice by mistake): moved and recorded once.
      await redis.rpush(list, 'x', 'y', 'ghost', 'z', 'w', 'x');
      expect(await store.upgradeRange('a', '1.1.0', list, 0, 5, targets, T + 2)).toEqual({
        considered: 6,
        moved: 2,
        deferred: 1,
        targets: new Map([['1.1.0', 2]]),
        unknown: ['z'],
      });
      const upgraded: HistoryEntry = { at: T + 2, kind: 'upgraded', from: '1.0.0', to: '1.1.0', cause: 'automatic' };
      expect(await historyOf('x')).toBe(encodeHistory([{ at: T, kind: 'registered', version: '1.0.0' }, upgraded]));
      expect(await historyOf('y')).toBe(
        encodeHistory([{ at: T, kind: 'registered', version: '1.0.0' }, deferred, upgraded]),
      );
      expect(await store.distribution('a')).toEqual({ '0.5.0': 1, '1.1.0': 3 });
      // Again: nothing moves (the map moves 1.1.0 nowhere), nothing is written.
      const before = await redis.hgetall(keys.installationData('a'));
      expect(await store.upgradeRange('a', '1.1.0', list, 0, 5, targets, T + 3)).toMatchObject({ moved: 0 });
      expect(await redis.hgetall(keys.installationData('a'))).toEqual(before);
    });

    it('while the app has approvals, leaves the installations on a version an approval can change, writing nothing for them', async () => {
      await store.register([inst('x'), inst('y', '1.0.5')], T);
      await store.setApproved('a', 'x', null, '1.0.5', [], T);
      const list = keys.rolloutBucket('a', '1.1.0', 'upgrade', T);
      await redis.rpush(list, 'x', 'y');
      const map = new Map([
        ['1.0.0', { target: null, cause: 'automatic' as const, approvalMatters: true }],
        ['1.0.5', { target: '1.1.0', cause: 'automatic' as const, approvalMatters: false }],
        ['1.1.0', { target: null, cause: 'automatic' as const }],
      ]);
      expect(await store.upgradeRange('a', '1.1.0', list, 0, 1, map, T + 1)).toMatchObject({
        considered: 2,
        moved: 1,
        unknown: ['x'],
      });
      expect((await store.get('x')).version).toBe('1.0.0');
      expect((await store.get('y')).version).toBe('1.1.0');
    });
  });

  describe('readRangeStates and readPlanChunk-3.lua', () => {
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

  describe('readLateInputs (native commands)', () => {
    it('reads records by position with approvals and the registration time of their history; ghosts are counted, not returned', async () => {
      const windows = { timeZone: 'UTC', weekly: [{ day: 1, start: '02:00', minutes: 60 }], adHoc: [] };
      await store.register([inst('x'), { ...inst('y', '1.0.1'), maintenance: windows }], T);
      await store.register([inst('z')], T + 7_000);
      await store.setApproved('a', 'y', null, '2.0.0', ['2.0.0'], T + 9_000);
      await store.applyMoves('a', [{ id: 'x', expected: '1.0.0', target: '1.0.2', cause: 'automatic' }], T + 10_000);
      await redis.rpush(keys.installationIds('a'), 'ghost');
      expect(await store.readLateInputs('a', 0, 10)).toEqual({
        read: 4,
        inputs: [
          {
            id: 'x',
            version: '1.0.2',
            checkOffsetMs: 60_000,
            maintenance: null,
            approvedUpTo: null,
            position: 0,
            knownAt: T,
          },
          {
            id: 'y',
            version: '1.0.1',
            checkOffsetMs: 60_000,
            maintenance: windows,
            approvedUpTo: '2.0.0',
            position: 1,
            knownAt: T,
          },
          {
            id: 'z',
            version: '1.0.0',
            checkOffsetMs: 60_000,
            maintenance: null,
            approvedUpTo: null,
            position: 2,
            knownAt: T + 7_000,
          },
        ],
      });
      expect((await store.readLateInputs('a', 2, 1)).inputs.map((i) => i.id)).toEqual(['z']);
      expect(await store.readLateInputs('a', 4, 5)).toEqual({ read: 0, inputs: [] });
    });
  });

  describe('approveInstallation-2.lua', () => {
    it('1: sets approvedUpTo from the value read and appends one entry per version approved', async () => {
      await store.register([inst('x')], T);
      expect(await store.setApproved('a', 'x', null, '1.2.0', ['1.1.0', '1.2.0'], T + 5)).toBe(true);
      expect(await store.setApproved('a', 'x', '1.2.0', '1.3.0', [], T + 6)).toBe(true);
      const x = await store.get('x');
      expect(x.approvedUpTo).toBe('1.3.0');
      expect(await historyOf('x')).toBe(
        encodeHistory([
          { at: T, kind: 'registered', version: '1.0.0' },
          { at: T + 5, kind: 'approved', version: '1.1.0' },
          { at: T + 5, kind: 'approved', version: '1.2.0' },
        ]),
      );
    });

    it('1: writes the first history entries of an installation that had none', async () => {
      await store.register([inst('x')], T);
      // A record with an empty history (as a migrated record without history has).
      const r = splitRecord(await redis.hget(keys.installationData('a'), 'x'))!;
      await redis.hset(keys.installationData('a'), 'x', `${r.version}\x1f${r.json}\x1f`);
      expect(await store.setApproved('a', 'x', null, '1.1.0', ['1.1.0'], T + 5)).toBe(true);
      expect(await historyOf('x')).toBe(`${T + 5}|a|1.1.0`);
    });

    it('0: a stale approvedUpTo, or an installation not registered (nothing written)', async () => {
      await store.register([inst('x')], T);
      await store.setApproved('a', 'x', null, '1.2.0', ['1.2.0'], T + 5);
      expect(await store.setApproved('a', 'x', null, '1.3.0', ['1.3.0'], T + 6)).toBe(false);
      expect(await store.setApproved('a', 'ghost', null, '1.3.0', ['1.3.0'], T + 6)).toBe(false);
      expect((await store.get('x')).approvedUpTo).toBe('1.2.0');
      expect(await redis.hexists(keys.installationApproved('a'), 'ghost')).toBe(0);
      expect(await redis.hexists(keys.installationData('a'), 'ghost')).toBe(0);
    });
  });

  describe('markUpdateAvailable-2.lua', () => {
    it('marks each registered installation once per version, with one history entry', async () => {
      await store.register([inst('x'), inst('y')], T);
      expect(await store.markUpdateAvailable('a', ['x', 'y', 'ghost'], '2.0.0', T + 1)).toBe(2);
      expect(await store.markUpdateAvailable('a', ['x', 'y'], '2.0.0', T + 2)).toBe(0);
      expect(await store.markUpdateAvailable('a', ['x'], '2.1.0', T + 3)).toBe(1);
      expect(await store.markUpdateAvailable('a', [], '2.1.0', T + 3)).toBe(0);
      expect((await store.get('x')).updateAvailable).toBe('2.1.0');
      expect(await historyOf('x')).toBe(
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
