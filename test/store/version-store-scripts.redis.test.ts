/**
 * The version store's scripts on a real Redis, through the store methods that run them:
 * storeVersion-5.lua (VersionStore.storeVersion), markDecided-2.lua (markDecided) and
 * recordDeployment-2.lua (recordDeploymentWithoutVersion). Each reply code is asserted with the
 * state it leaves.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { AppStore } from '../../src/store/app-store.js';
import { createKeys, type Keys } from '../../src/store/keys.js';
import type { VersionRecord } from '../../src/store/types.js';
import { VersionStore } from '../../src/store/version-store.js';
import { connectTestRedis, deleteKeysWithPrefix, testPrefix } from '../helpers/redis.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');

const rec = (version: string, over: Partial<VersionRecord> = {}): VersionRecord => ({
  appId: 'a',
  kind: 'connect',
  version,
  bump: version === '1.0.0' ? 'initial' : 'micro',
  approval: 'automatic',
  reasons: [],
  warnings: [],
  descriptorHash: `sha256:${version}`,
  source: 'poll',
  detectedAt: T0,
  ...over,
});

describe('VersionStore scripts (real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  let keys: Keys;
  let versions: VersionStore;
  let apps: AppStore;
  beforeEach(async () => {
    redis = await connectTestRedis();
    prefix = testPrefix();
    keys = createKeys(prefix);
    versions = new VersionStore(redis, keys);
    apps = new AppStore(redis, keys);
    await apps.addConnectApp({ id: 'a', descriptorUrl: 'https://example.com/a.json', now: T0 });
  });
  afterEach(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });

  describe('storeVersion-5.lua', () => {
    it('created: record, history, descriptor (write-once) and the app’s latest fields, together', async () => {
      const first = await versions.storeVersion(rec('1.0.0'), null, '{"v":0}');
      expect(first).toEqual({ status: 'created', version: '1.0.0' });
      const second = await versions.storeVersion(rec('1.0.1', { detectedAt: T0 + 10 }), '1.0.0', '{"v":1}');
      expect(second).toEqual({ status: 'created', version: '1.0.1' });
      expect((await versions.listVersions('a')).map((v) => v.version)).toEqual(['1.0.0', '1.0.1']);
      expect(await redis.get(keys.descriptor('a', 'sha256:1.0.1'))).toBe('{"v":1}');
      const app = await apps.getApp('a');
      expect(app).toMatchObject({ latestVersion: '1.0.1', latestHash: 'sha256:1.0.1', versionedAt: T0 + 10 });
    });

    it('a canonical text of "" stores no descriptor; a deploy leaves versionedAt alone', async () => {
      await versions.storeVersion(rec('1.0.0', { source: 'deploy', deploymentId: 'd1' }), null);
      expect(await redis.exists(keys.descriptor('a', 'sha256:1.0.0'))).toBe(0);
      expect((await apps.getApp('a'))!.versionedAt).toBeUndefined();
      expect(await versions.deploymentVersion('a', 'd1')).toBe('1.0.0');
    });

    it('conflict: the latest is not the one classified against (null = none), or the version exists', async () => {
      await versions.storeVersion(rec('1.0.0'), null);
      expect(await versions.storeVersion(rec('1.0.1'), null)).toEqual({ status: 'conflict', latest: '1.0.0' });
      expect(await versions.storeVersion(rec('1.0.1'), '0.9.0')).toEqual({ status: 'conflict', latest: '1.0.0' });
      expect(await versions.storeVersion(rec('1.0.0'), '1.0.0')).toEqual({ status: 'conflict', latest: '1.0.0' });
      const other = new VersionStore(redis, createKeys(`${prefix}-other`));
      const otherApps = new AppStore(redis, createKeys(`${prefix}-other`));
      await otherApps.addConnectApp({ id: 'a', descriptorUrl: 'https://example.com/a.json', now: T0 });
      expect(await other.storeVersion(rec('1.0.1'), '1.0.0')).toEqual({ status: 'conflict', latest: null });
      expect((await versions.listVersions('a')).map((v) => v.version)).toEqual(['1.0.0']);
    });

    it('exists: a deployment id that has a version yields no second one', async () => {
      await versions.recordDeploymentWithoutVersion('a', 'd0');
      const deploy = { source: 'deploy', deploymentId: 'd0' } as const;
      expect(await versions.storeVersion(rec('2.0.0', deploy), null)).toMatchObject({ status: 'created' });
      const again = await versions.storeVersion(rec('2.1.0', deploy), '2.0.0');
      expect(again).toEqual({ status: 'exists', version: '2.0.0' });
      expect((await versions.listVersions('a')).map((v) => v.version)).toEqual(['2.0.0']);
    });

    it('superseded: a polled change detected before the app’s versionedAt is refused', async () => {
      await versions.storeVersion(rec('1.0.0', { detectedAt: T0 + 100 }), null);
      const late = await versions.storeVersion(rec('1.0.1', { detectedAt: T0 + 99 }), '1.0.0');
      expect(late).toEqual({ status: 'superseded', versionedAt: T0 + 100 });
      // a deploy is not a polled change: not refused by the poll's detection time
      const cli = await versions.storeVersion(rec('1.0.1', { source: 'cli', detectedAt: T0 }), '1.0.0');
      expect(cli).toMatchObject({ status: 'created' });
      // the same detection time is not older
      const same = await versions.storeVersion(rec('1.0.2', { detectedAt: T0 + 100 }), '1.0.1');
      expect(same).toMatchObject({ status: 'created' });
    });

    it('gone: nothing is written for an unregistered app', async () => {
      await redis.del(keys.app('a'));
      expect(await versions.storeVersion(rec('1.0.0'), null, '{}')).toEqual({ status: 'gone' });
      const written = [keys.versions('a'), keys.versionOrder('a'), keys.descriptor('a', 'sha256:1.0.0'), keys.app('a')];
      expect(await redis.exists(...written)).toBe(0);
    });
  });

  describe('markDecided-2.lua', () => {
    it('ok: versionedAt rises to the detection time and never falls', async () => {
      await versions.storeVersion(rec('1.0.0', { detectedAt: T0 }), null);
      expect(await versions.markDecided('a', T0 + 50, '1.0.0')).toBe('ok');
      expect((await apps.getApp('a'))!.versionedAt).toBe(T0 + 50);
      expect(await versions.markDecided('a', T0 + 20, '1.0.0')).toBe('ok');
      expect((await apps.getApp('a'))!.versionedAt).toBe(T0 + 50);
    });

    it('conflict: the version compared with is no longer the latest (nothing written)', async () => {
      await versions.storeVersion(rec('1.0.0', { detectedAt: T0 }), null);
      await versions.storeVersion(rec('1.0.1', { detectedAt: T0 + 1 }), '1.0.0');
      expect(await versions.markDecided('a', T0 + 50, '1.0.0')).toBe('conflict');
      expect((await apps.getApp('a'))!.versionedAt).toBe(T0 + 1);
    });

    it('gone: an unregistered app is not re-created', async () => {
      await versions.storeVersion(rec('1.0.0'), null);
      await redis.del(keys.app('a'));
      expect(await versions.markDecided('a', T0 + 50, '1.0.0')).toBe('gone');
      expect(await redis.exists(keys.app('a'))).toBe(0);
    });
  });

  describe('recordDeployment-2.lua', () => {
    it('records "-" once and never overwrites a deployment that has a version', async () => {
      await versions.recordDeploymentWithoutVersion('a', 'staging-1');
      await versions.recordDeploymentWithoutVersion('a', 'staging-1');
      expect(await versions.deploymentVersion('a', 'staging-1')).toBe('-');
      await versions.storeVersion(rec('2.0.0', { source: 'deploy', deploymentId: 'prod-1' }), null);
      await versions.recordDeploymentWithoutVersion('a', 'prod-1');
      expect(await versions.deploymentVersion('a', 'prod-1')).toBe('2.0.0');
    });

    it('writes nothing for an unregistered app', async () => {
      await redis.del(keys.app('a'));
      await versions.recordDeploymentWithoutVersion('a', 'staging-1');
      expect(await redis.exists(keys.deployments('a'))).toBe(0);
    });
  });
});
