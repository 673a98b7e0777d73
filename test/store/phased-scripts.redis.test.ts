/**
 * The scripts of phased releases and the error budget on a real Redis, through the store methods
 * that run them: setPhases-1.lua (RolloutStore.setPhases), setRolloutStatus-1.lua with a phase
 * state (transitionWith: the pause moves with the status), recordFailure-3.lua (recordFailure)
 * and setAppField-1.lua (AppStore.setPhasedRelease). Each reply is asserted with the state it leaves.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { HOUR } from '../../src/lib/clock.js';
import { parsePhaseSchedule, startPhases, stepPhases } from '../../src/rollout/phased-release.js';
import { AppStore } from '../../src/store/app-store.js';
import { InstallationStore } from '../../src/store/installation-store.js';
import { createKeys, type Keys } from '../../src/store/keys.js';
import { RolloutStore, type RolloutRecord } from '../../src/store/rollout-store.js';
import { connectTestRedis, deleteKeysWithPrefix, testPrefix } from '../helpers/redis.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const apple = parsePhaseSchedule('apple');

const rollout = (over: Partial<RolloutRecord> = {}): Omit<RolloutRecord, 'id'> => ({
  appId: 'a',
  version: '1.0.1',
  kind: 'connect',
  approval: 'automatic',
  bump: 'micro',
  publishedAt: T0,
  status: 'scheduled',
  resumeTo: null,
  createdAt: T0,
  plannedAt: T0,
  summary: null,
  batches: 0,
  supersededBy: null,
  phases: startPhases(apple, T0),
  ...over,
});

describe('phased release and error budget scripts (real Redis)', () => {
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

  it('setPhases: ok writes; a state moved under it is read again; halted and missing write nothing', async () => {
    await rollouts.create(rollout());
    let calls = 0;
    const st = await rollouts.setPhases('a', '1.0.1', (cur) => {
      calls++;
      // The first time, another writer steps the phase under us: the script answers stale.
      if (calls === 1)
        void redis.hset(keys.rollout('a', '1.0.1'), 'phases', JSON.stringify(stepPhases(cur!, 1, T0 + HOUR)));
      return stepPhases(cur!, cur!.phase + 1, T0 + 2 * HOUR);
    });
    expect(calls).toBe(2);
    expect(st).toMatchObject({ phase: 2, startedAt: T0 + 2 * HOUR });
    expect((await rollouts.get('a', '1.0.1'))!.phases).toEqual(st);
    await rollouts.transition('a', '1.0.1', 'halt');
    expect(await rollouts.setPhases('a', '1.0.1', (cur) => stepPhases(cur!, 6, T0))).toBeNull();
    expect((await rollouts.get('a', '1.0.1'))!.phases!.phase).toBe(2);
    expect(await rollouts.setPhases('a', '9.9.9', () => startPhases(apple, T0))).toBeNull();
    expect(await redis.exists(keys.rollout('a', '9.9.9'))).toBe(0);
  });

  it('a pause and a resume move the phase state with the status, and record who paused and why', async () => {
    await rollouts.create(rollout());
    const paused = await rollouts.transitionWith('a', '1.0.1', 'pause', {
      at: T0 + HOUR,
      by: 'alice',
      reason: 'looking',
    });
    expect(paused).toEqual({ status: 'paused', changed: true });
    let r = (await rollouts.get('a', '1.0.1'))!;
    expect(r.pause).toEqual({ at: T0 + HOUR, by: 'alice', reason: 'looking' });
    expect(r.phases!.pausedAt).toBe(T0 + HOUR);
    // Pausing again changes nothing: the first pause (and its reason) stays.
    expect(
      (await rollouts.transitionWith('a', '1.0.1', 'pause', { at: T0 + 2 * HOUR, by: 'system', reason: 'x' })).changed,
    ).toBe(false);
    await rollouts.transitionWith('a', '1.0.1', 'resume', { at: T0 + 5 * HOUR, by: 'alice' });
    r = (await rollouts.get('a', '1.0.1'))!;
    expect(r.pause).toBeUndefined();
    expect(r.phases).toMatchObject({ pausedAt: null, pausedMs: 4 * HOUR, nextStepAt: T0 + 24 * HOUR + 4 * HOUR });
  });

  it('recordFailure: once per installation; unknown installation and missing rollout write nothing', async () => {
    await rollouts.create(rollout());
    const installs = new InstallationStore(redis, keys);
    await installs.register(
      [{ id: 'i1', appId: 'a', site: 's', products: ['jira'], version: '1.0.1', checkOffsetMs: 0, maintenance: null }],
      T0,
    );
    const f = { installationId: 'i1', at: T0, by: 'monitoring', reason: 'boom' };
    expect(await rollouts.recordFailure('a', '1.0.1', f)).toEqual({ added: true, failures: 1 });
    expect(await rollouts.recordFailure('a', '1.0.1', { ...f, reason: 'again' })).toEqual({
      added: false,
      failures: 1,
    });
    expect(await rollouts.failures('a', '1.0.1')).toEqual([f]);
    await expect(rollouts.recordFailure('a', '1.0.1', { ...f, installationId: 'nobody' })).rejects.toMatchObject({
      code: 'installation-not-found',
    });
    await expect(rollouts.recordFailure('a', '9.9.9', f)).rejects.toMatchObject({ code: 'rollout-not-found' });
    expect(await redis.exists(keys.rolloutFailures('a', '9.9.9'))).toBe(0);
    expect(await rollouts.failureCount('a', '1.0.1')).toBe(1);
  });

  it("setAppField: an app's phased release is written only while the app is registered", async () => {
    const apps = new AppStore(redis, keys);
    await expect(apps.setPhasedRelease('ghost', apple)).rejects.toMatchObject({ code: 'app-not-found' });
    expect(await redis.exists(keys.app('ghost'))).toBe(0);
    await apps.addConnectApp({ id: 'c', descriptorUrl: 'https://c.example.com/d.json', now: T0 });
    await apps.setPhasedRelease('c', apple);
    expect((await apps.getApp('c'))!.phasedRelease).toEqual(apple);
    await apps.setPhasedRelease('c', null);
    expect((await apps.getApp('c'))!.phasedRelease).toBeUndefined();
  });
});
