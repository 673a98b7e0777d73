/**
 * The app store's scripts on a real Redis, through the store methods that run them:
 * claimPolls.lua (AppStore.claimPolls) and recordPolls.lua (recordPollSuccess,
 * recordPollFailure, recordForgeDeployment). Each reply code is asserted with the state it
 * leaves.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { AppStore } from '../../src/store/app-store.js';
import { createKeys, type Keys } from '../../src/store/keys.js';
import { connectTestRedis, deleteKeysWithPrefix, testPrefix } from '../helpers/redis.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const FORGE = 'ari:cloud:ecosystem::app/0b9c6a5e-3c1d-4a8e-9f2b-7d1e2c3b4a5f';

describe('AppStore scripts (real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  let keys: Keys;
  let apps: AppStore;
  beforeEach(async () => {
    redis = await connectTestRedis();
    prefix = testPrefix();
    keys = createKeys(prefix);
    apps = new AppStore(redis, keys);
    await apps.addConnectApp({ id: 'a', descriptorUrl: 'https://example.com/a.json', now: T0 });
    await apps.addConnectApp({ id: 'b', descriptorUrl: 'https://example.com/b.json', now: T0 });
  });
  afterEach(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });

  describe('claimPolls.lua', () => {
    it('claimed: the first owner of a slot gets the poll target and holds the claim', async () => {
      await redis.hset(keys.app('a'), { etag: '"e1"', latestVersion: '1.0.0', latestHash: 'sha256:x' });
      const [a, b] = await apps.claimPolls('job-1', [
        { appId: 'a', slot: 7 },
        { appId: 'b', slot: 7 },
      ]);
      expect(a).toEqual({
        status: 'claimed',
        app: {
          id: 'a',
          kind: 'connect',
          descriptorUrl: 'https://example.com/a.json',
          etag: '"e1"',
          latestVersion: '1.0.0',
          latestHash: 'sha256:x',
        },
      });
      expect(b).toMatchObject({ status: 'claimed', app: { id: 'b' } });
      expect(await redis.hmget(keys.app('a'), 'pollSlot', 'pollClaim')).toEqual(['7', 'job-1']);
    });

    it('claimed again by the same owner (a redelivered batch); taken for any other owner', async () => {
      await apps.claimPolls('job-1', [{ appId: 'a', slot: 7 }]);
      expect((await apps.claimPolls('job-1', [{ appId: 'a', slot: 7 }]))[0]!.status).toBe('claimed');
      expect(await apps.claimPolls('job-2', [{ appId: 'a', slot: 7 }])).toEqual([{ status: 'taken', owner: 'job-1' }]);
      expect(await redis.hget(keys.app('a'), 'pollClaim')).toBe('job-1');
    });

    it('taken for an older slot; a later slot is claimed by anyone', async () => {
      await apps.claimPolls('job-1', [{ appId: 'a', slot: 7 }]);
      expect(await apps.claimPolls('job-0', [{ appId: 'a', slot: 6 }])).toEqual([{ status: 'taken', owner: 'job-1' }]);
      expect((await apps.claimPolls('job-2', [{ appId: 'a', slot: 8 }]))[0]!.status).toBe('claimed');
      expect(await redis.hmget(keys.app('a'), 'pollSlot', 'pollClaim')).toEqual(['8', 'job-2']);
    });

    it('taken with owner "" once the poll of that slot is done', async () => {
      await apps.claimPolls('job-1', [{ appId: 'a', slot: 7 }]);
      await apps.recordPollSuccess('a', { at: T0, outcome: 'unchanged', httpStatus: 200 }, { slot: 7, owner: 'job-1' });
      expect(await apps.claimPolls('job-2', [{ appId: 'a', slot: 7 }])).toEqual([{ status: 'taken', owner: '' }]);
    });

    it('gone: an unknown app is reported and not created', async () => {
      expect(
        await apps.claimPolls('job-1', [
          { appId: 'nope', slot: 1 },
          { appId: 'a', slot: 1 },
        ]),
      ).toEqual([{ status: 'gone' }, expect.objectContaining({ status: 'claimed' })]);
      expect(await redis.exists(keys.app('nope'))).toBe(0);
    });
  });

  describe('recordPolls.lua', () => {
    it('recorded: a success resets the failure streak, keeps validators, forgets absent ones on a 200', async () => {
      await apps.recordPollFailure('a', { at: T0, error: 'descriptor-fetch-failed: 503', httpStatus: 503 });
      await apps.recordPollFailure('a', { at: T0 + 1, error: 'descriptor-fetch-failed: timeout' });
      expect(await apps.getApp('a')).toMatchObject({
        status: 'failing',
        consecutiveFailures: 2,
        totalFailures: 2,
        lastPollOutcome: 'failed',
      });
      // the second failure had no HTTP status: the first one's is deleted
      expect((await apps.getApp('a'))!.lastHttpStatus).toBeUndefined();

      const validators = { etag: '"e1"', lastModified: 'Mon' };
      const changed = { at: T0 + 2, outcome: 'changed', httpStatus: 200, hash: 'sha256:1' } as const;
      await apps.recordPollSuccess('a', { ...changed, ...validators });
      expect(await apps.getApp('a')).toMatchObject({
        ...validators,
        status: 'active',
        consecutiveFailures: 0,
        totalFailures: 2,
        lastSeenHash: 'sha256:1',
        lastHttpStatus: 200,
      });
      await apps.recordPollSuccess('a', { at: T0 + 3, outcome: 'not-modified', httpStatus: 304 });
      expect(await apps.getApp('a')).toMatchObject({ ...validators, lastPollOutcome: 'not-modified' });
      await apps.recordPollSuccess('a', { at: T0 + 4, outcome: 'unchanged', httpStatus: 200 });
      const after = await apps.getApp('a');
      expect(after!.etag).toBeUndefined();
      expect(after!.lastModified).toBeUndefined();
    });

    it('a NUL in a header value is stored as U+FFFD (the arguments are NUL-joined)', async () => {
      await apps.recordPollSuccess('a', { at: T0, outcome: 'changed', httpStatus: 200, etag: 'x\0y' });
      expect((await apps.getApp('a'))!.etag).toBe('x\uFFFDy');
    });

    it('moves the claim only while the caller holds it: done, or handed to a retry', async () => {
      await apps.claimPolls('job-1', [{ appId: 'a', slot: 7 }]);
      await apps.recordPollFailure('a', { at: T0, error: 'x' }, { slot: 7, owner: 'job-1', handOffTo: 'job-1-retry' });
      expect(await redis.hget(keys.app('a'), 'pollClaim')).toBe('job-1-retry');
      // the first job no longer holds it: its late success records the poll but leaves the claim
      const ok = (at: number) => ({ at, outcome: 'unchanged' as const, httpStatus: 200 });
      await apps.recordPollSuccess('a', ok(T0 + 1), { slot: 7, owner: 'job-1' });
      expect(await redis.hget(keys.app('a'), 'pollClaim')).toBe('job-1-retry');
      expect((await apps.getApp('a'))!.lastPollAt).toBe(T0 + 1);
      await apps.recordPollSuccess('a', ok(T0 + 2), { slot: 7, owner: 'job-1-retry' });
      expect(await redis.hget(keys.app('a'), 'pollClaim')).toBe('');
    });

    it('records of many apps in one turn go out together, each with its own result', async () => {
      await redis.del(keys.app('b'));
      const results = await Promise.allSettled([
        apps.recordPollSuccess('a', { at: T0, outcome: 'unchanged', httpStatus: 200 }),
        apps.recordPollSuccess('b', { at: T0, outcome: 'unchanged', httpStatus: 200 }),
      ]);
      expect(results[0]!.status).toBe('fulfilled');
      expect(results[1]).toMatchObject({ status: 'rejected', reason: { code: 'app-not-found' } });
    });

    it('gone: a removed app is never re-created (success throws app-not-found; failure writes nothing)', async () => {
      await redis.del(keys.app('a'));
      const late = apps.recordPollSuccess('a', { at: T0, outcome: 'unchanged', httpStatus: 200 });
      await expect(late).rejects.toMatchObject({ code: 'app-not-found' });
      await apps.recordPollFailure('a', { at: T0, error: 'x' });
      expect(await redis.exists(keys.app('a'))).toBe(0);
    });

    it('recordForgeDeployment writes the environment; a removed app is not re-created', async () => {
      await apps.addForgeApp({ ari: FORGE, now: T0 });
      await apps.recordForgeDeployment(FORGE, 'production', T0 + 5);
      await apps.recordForgeDeployment(FORGE, 'staging', T0 + 6);
      expect((await apps.getApp(FORGE))!.environments).toEqual({ production: T0 + 5, staging: T0 + 6 });
      await redis.del(keys.app(FORGE));
      const late = apps.recordForgeDeployment(FORGE, 'production', T0 + 7);
      await expect(late).rejects.toMatchObject({ code: 'app-not-found' });
      expect(await redis.exists(keys.app(FORGE))).toBe(0);
    });
  });
});
