/**
 * The rollout store's scripts on a real Redis, through the store methods that run them:
 * setRolloutStatus-1.lua (RolloutStore.transition), finishPlanning-2.lua (finishPlanning),
 * markSuperseded-1.lua (markSuperseded) and pushBuckets.lua (pushBuckets). Each reply code is
 * asserted with the state it leaves; the status rules themselves are table-tested in
 * test/rollout/rollout-status.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { PlanSummary } from '../../src/rollout/plan-rollout.js';
import { createKeys, type Keys } from '../../src/store/keys.js';
import { RolloutStore, type RolloutRecord, type RolloutStatus } from '../../src/store/rollout-store.js';
import { defineScripts } from '../../src/store/scripts.js';
import { connectTestRedis, deleteKeysWithPrefix, testPrefix } from '../helpers/redis.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const SUMMARY = { total: 2, upgrades: 2, notifies: 0, upToDate: 0, blocked: 0, buckets: 1 } as unknown as PlanSummary;

const rollout = (version: string, over: Partial<RolloutRecord> = {}): Omit<RolloutRecord, 'id'> => ({
  appId: 'a',
  version,
  kind: 'connect',
  approval: 'automatic',
  bump: 'micro',
  publishedAt: T0,
  status: 'planning',
  resumeTo: null,
  createdAt: T0,
  plannedAt: null,
  summary: null,
  batches: 0,
  supersededBy: null,
  ...over,
});

describe('RolloutStore scripts (real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  let keys: Keys;
  let rollouts: RolloutStore;
  beforeEach(async () => {
    redis = await connectTestRedis();
    prefix = testPrefix();
    keys = createKeys(prefix);
    rollouts = new RolloutStore(redis, keys);
  });
  afterEach(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });

  const stored = async (version = '1.0.1') => {
    const [status, resumeTo] = await redis.hmget(keys.rollout('a', version), 'status', 'resumeTo');
    return { status, resumeTo };
  };

  describe('setRolloutStatus-1.lua (transition)', () => {
    it('ok: pause remembers the status, resume returns to it, halt is final', async () => {
      await rollouts.create(rollout('1.0.1', { status: 'scheduled' }));
      expect(await rollouts.transition('a', '1.0.1', 'pause')).toBe('paused');
      expect(await stored()).toEqual({ status: 'paused', resumeTo: 'scheduled' });
      expect(await rollouts.transition('a', '1.0.1', 'pause')).toBe('paused');
      expect(await rollouts.transition('a', '1.0.1', 'resume')).toBe('scheduled');
      expect(await stored()).toEqual({ status: 'scheduled', resumeTo: '' });
      expect(await rollouts.transition('a', '1.0.1', 'resume')).toBe('scheduled');
      expect(await rollouts.transition('a', '1.0.1', 'halt')).toBe('halted');
      expect(await rollouts.transition('a', '1.0.1', 'halt')).toBe('halted');
      expect(await stored()).toEqual({ status: 'halted', resumeTo: '' });
    });

    it('rollout-conflict: pausing or resuming a halted rollout (nothing written)', async () => {
      await rollouts.create(rollout('1.0.1', { status: 'halted' }));
      await expect(rollouts.transition('a', '1.0.1', 'pause')).rejects.toMatchObject({
        code: 'rollout-conflict',
        message: 'rollout a@1.0.1 is halted: cannot pause it',
      });
      await expect(rollouts.transition('a', '1.0.1', 'resume')).rejects.toMatchObject({ code: 'rollout-conflict' });
      expect(await stored()).toEqual({ status: 'halted', resumeTo: '' });
    });

    it('rollout-not-found: a missing rollout is not created', async () => {
      await expect(rollouts.transition('a', '9.9.9', 'halt')).rejects.toMatchObject({ code: 'rollout-not-found' });
      expect(await redis.exists(keys.rollout('a', '9.9.9'))).toBe(0);
    });

    it('the script writes only while the status is the one read (else stale), only to a rollout', async () => {
      await rollouts.create(rollout('1.0.1', { status: 'scheduled' }));
      const r = defineScripts(redis);
      const key = keys.rollout('a', '1.0.1');
      expect(await r.mpuSetRolloutStatus(key, 'planning', '', 'paused', 'planning')).toBe('stale');
      expect(await r.mpuSetRolloutStatus(key, 'scheduled', 'paused', 'paused', 'scheduled')).toBe('stale');
      expect(await stored()).toEqual({ status: 'scheduled', resumeTo: '' });
      expect(await r.mpuSetRolloutStatus(key, 'scheduled', '', 'paused', 'scheduled')).toBe('ok');
      expect(await stored()).toEqual({ status: 'paused', resumeTo: 'scheduled' });
      expect(await r.mpuSetRolloutStatus(keys.rollout('a', '9.9.9'), 'scheduled', '', 'halted', '')).toBe('missing');
      expect(await redis.exists(keys.rollout('a', '9.9.9'))).toBe(0);
    });

    it('concurrent actions each apply to the status the other left (compare-and-set with retries)', async () => {
      await rollouts.create(rollout('1.0.1', { status: 'scheduled' }));
      const results = await Promise.allSettled([
        rollouts.transition('a', '1.0.1', 'pause'),
        rollouts.transition('a', '1.0.1', 'halt'),
        rollouts.transition('a', '1.0.1', 'pause'),
      ]);
      // halt wins whatever the order; a pause after it is refused, before it is overwritten
      expect(await stored()).toEqual({ status: 'halted', resumeTo: '' });
      for (const r of results) {
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'rollout-conflict' });
      }
    });
  });

  describe('finishPlanning-2.lua', () => {
    it('ok: a planning rollout takes the planned status with its summary', async () => {
      await rollouts.create(rollout('1.0.1'));
      const status = await rollouts.finishPlanning('a', '1.0.1', SUMMARY, 3, 'awaiting-approval', T0 + 5);
      expect(status).toBe('awaiting-approval');
      expect(await rollouts.get('a', '1.0.1')).toMatchObject({
        status: 'awaiting-approval',
        resumeTo: null,
        summary: SUMMARY,
        batches: 3,
        plannedAt: T0 + 5,
      });
    });

    it.each<[RolloutStatus, RolloutStatus | null, RolloutStatus, RolloutStatus | null]>([
      ['paused', 'planning', 'paused', 'scheduled'],
      ['halted', null, 'halted', null],
    ])('ok: a rollout %s meanwhile stays %s', async (status, resumeTo, after, afterResumeTo) => {
      await rollouts.create(rollout('1.0.1', { status, resumeTo }));
      expect(await rollouts.finishPlanning('a', '1.0.1', SUMMARY, 1, 'scheduled', T0 + 5)).toBe(after);
      const record = await rollouts.get('a', '1.0.1');
      expect(record).toMatchObject({ status: after, resumeTo: afterResumeTo, plannedAt: T0 + 5 });
    });

    it('behind: installations registered past the plan cursor (nothing written)', async () => {
      await rollouts.create(rollout('1.0.1'));
      await redis.rpush(keys.installationIds('a'), 'i1', 'i2');
      expect(await rollouts.finishPlanning('a', '1.0.1', SUMMARY, 1, 'scheduled', T0 + 5)).toBe('behind');
      expect(await rollouts.get('a', '1.0.1')).toMatchObject({ status: 'planning', plannedAt: null, summary: null });
      await rollouts.pushBuckets('a', '1.0.1', [{ kind: 'upgrade', at: T0, ids: ['i1', 'i2'] }], 2, 0);
      expect(await rollouts.finishPlanning('a', '1.0.1', SUMMARY, 1, 'scheduled', T0 + 6)).toBe('scheduled');
    });

    it('null (missing): a deleted rollout is not re-created', async () => {
      expect(await rollouts.finishPlanning('a', '1.0.1', SUMMARY, 1, 'scheduled', T0)).toBeNull();
      expect(await redis.exists(keys.rollout('a', '1.0.1'))).toBe(0);
    });

    it('the script refuses a status that moved since the read (stale)', async () => {
      await rollouts.create(rollout('1.0.1'));
      const r = defineScripts(redis);
      const args = [keys.rollout('a', '1.0.1'), keys.installationIds('a'), '{}', 1, T0] as const;
      expect(await r.mpuFinishPlanning(...args, 'paused', 'planning', 'paused', 'scheduled')).toBe('stale');
      expect(await rollouts.get('a', '1.0.1')).toMatchObject({ status: 'planning', plannedAt: null });
      expect(await r.mpuFinishPlanning(...args, 'planning', '', 'scheduled', '')).toBe('ok');
    });
  });

  describe('markSuperseded-1.lua', () => {
    it('marks older rollouts of the app that still exist, and nothing else', async () => {
      await rollouts.create(rollout('1.0.0', { status: 'scheduled' }));
      await rollouts.create(rollout('1.0.1', { status: 'scheduled' }));
      await rollouts.create(rollout('1.0.3', { status: 'planning' }));
      await rollouts.create({ ...rollout('1.0.0'), appId: 'b' });
      // an index entry whose hash is gone (its rollout was deleted)
      await redis.zadd(keys.rollouts(), T0, 'a@0.9.0');
      await rollouts.markSuperseded('a', '1.0.2');
      expect((await rollouts.get('a', '1.0.0'))!.supersededBy).toBe('1.0.2');
      expect((await rollouts.get('a', '1.0.1'))!).toMatchObject({ supersededBy: '1.0.2', status: 'scheduled' });
      expect((await rollouts.get('a', '1.0.3'))!.supersededBy).toBeNull();
      expect((await rollouts.get('b', '1.0.0'))!.supersededBy).toBeNull();
      expect(await redis.exists(keys.rollout('a', '0.9.0'))).toBe(0);
    });
  });

  describe('pushBuckets.lua', () => {
    it('1: appends each bucket’s ids, counts them, moves the cursor', async () => {
      await rollouts.create(rollout('1.0.1'));
      const ids = Array.from({ length: 2500 }, (_, i) => `i${i}`);
      expect(
        await rollouts.pushBuckets(
          'a',
          '1.0.1',
          [
            { kind: 'upgrade', at: T0, ids: ids.slice(0, 2400) },
            { kind: 'notify', at: T0 + 1, ids: ids.slice(2400) },
          ],
          2500,
          0,
        ),
      ).toBe(true);
      expect(await rollouts.pushBuckets('a', '1.0.1', [{ kind: 'upgrade', at: T0, ids: ['j'] }], 2501)).toBe(true);
      expect(await rollouts.listBuckets('a', '1.0.1')).toEqual([
        { kind: 'upgrade', at: T0, size: 2401 },
        { kind: 'notify', at: T0 + 1, size: 100 },
      ]);
      expect(await rollouts.bucketRange('a', '1.0.1', 'upgrade', T0, 2399, 2400)).toEqual(['i2399', 'j']);
      expect(await rollouts.planCursor('a', '1.0.1')).toBe(2501);
    });

    it('-1: rollout-conflict (retryable) when another planner moved the cursor (nothing written)', async () => {
      await rollouts.create(rollout('1.0.1'));
      await rollouts.pushBuckets('a', '1.0.1', [{ kind: 'upgrade', at: T0, ids: ['x'] }], 1, 0);
      const again = rollouts.pushBuckets('a', '1.0.1', [{ kind: 'upgrade', at: T0, ids: ['x'] }], 1, 0);
      const err = await again.catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'rollout-conflict', retryable: true });
      expect(await rollouts.listBuckets('a', '1.0.1')).toEqual([{ kind: 'upgrade', at: T0, size: 1 }]);
    });

    it('0: false for a deleted rollout, and nothing is written', async () => {
      expect(await rollouts.pushBuckets('a', '1.0.1', [{ kind: 'upgrade', at: T0, ids: ['x'] }], 1, 0)).toBe(false);
      const written = [
        keys.rolloutBuckets('a', '1.0.1'),
        keys.rolloutBucket('a', '1.0.1', 'upgrade', T0),
        keys.rollout('a', '1.0.1'),
      ];
      expect(await redis.exists(...written)).toBe(0);
    });
  });
  describe('reconciliation marks', () => {
    it('a mark is kept for a rollout that exists and taken back for one that is gone (the app was removed while the sweep read it)', async () => {
      await rollouts.create(rollout('1.0.1', { status: 'scheduled' }));
      await rollouts.setReconcileMark('a', '1.0.1', T0 + 60_000);
      expect(await rollouts.reconcileMark('a', '1.0.1')).toBe(T0 + 60_000);
      await rollouts.setReconcileMark('a', '9.9.9', T0 + 60_000);
      expect(await rollouts.reconcileMark('a', '9.9.9')).toBe(-Infinity);
      await redis.del(keys.rollout('a', '1.0.1'));
      await redis.del(keys.reconcileMarks('a'));
      await rollouts.setReconcileMark('a', '1.0.1', T0 + 120_000);
      expect(await redis.exists(keys.reconcileMarks('a'))).toBe(0);
    });
  });
});
