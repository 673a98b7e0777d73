/**
 * Each app's version history in Redis (keys.ts: `versions`, `versionOrder`, `deployments`,
 * `descriptor`). A version, its place in the history, its descriptor and (for Forge) its
 * deployment id are written by one Lua script, guarded by the latest version the caller
 * classified against: two daemons detecting the same change produce one version (issue 3).
 * Every write checks that the app is registered (its record exists), so a versioning step still
 * running when the app is removed (`mpu apps remove`, app-remover.ts) writes nothing.
 */
import type { Redis } from 'ioredis';
import type { VersionReader, VersionRecord } from './types.js';
import type { Keys } from './keys.js';

/** What `storeVersion` did. */
export type StoreVersionResult =
  /** The version was written. */
  | { status: 'created'; version: string }
  /** The deployment id already has a version: nothing written. */
  | { status: 'exists'; version: string }
  /** The latest version is not the one classified against: re-read and classify again. */
  | { status: 'conflict'; latest: string | null }
  /** The app is not registered (removed meanwhile): nothing written. */
  | { status: 'gone' }
  /**
   * A polled change detected before the latest polled change already decided (`versionedAt`,
   * epoch ms): stale, nothing written.
   */
  | { status: 'superseded'; versionedAt: number };

// KEYS: versions hash, version-order list, deployments hash, descriptor key, app hash
// ARGV: expected latest ('' = none), version, record JSON, deployment id ('' = none), canonical
//   descriptor ('' = skip), descriptor hash, detection time of a polled change ('' = not polled)
// The app hash's `latestVersion` / `latestHash` follow the history in the same script (a poll
// reads them with its claim, no round trip of its own), and `versionedAt` the detection time of
// the latest polled change appended: an older one is refused (a late retry must not follow it).
const STORE_VERSION_LUA = `
if redis.call('EXISTS', KEYS[5]) == 0 then return {'gone', ''} end
if ARGV[4] ~= '' then
  local existing = redis.call('HGET', KEYS[3], ARGV[4])
  if existing and existing ~= '-' then return {'exists', existing} end
end
if ARGV[7] ~= '' then
  local decided = redis.call('HGET', KEYS[5], 'versionedAt')
  if decided and tonumber(decided) > tonumber(ARGV[7]) then return {'superseded', decided} end
end
local latest = redis.call('LINDEX', KEYS[2], -1)
if not latest then latest = '' end
if latest ~= ARGV[1] or redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then return {'conflict', latest} end
if ARGV[5] ~= '' then redis.call('SET', KEYS[4], ARGV[5], 'NX') end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('RPUSH', KEYS[2], ARGV[2])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], ARGV[4], ARGV[2]) end
redis.call('HSET', KEYS[5], 'latestVersion', ARGV[2], 'latestHash', ARGV[6])
if ARGV[7] ~= '' then redis.call('HSET', KEYS[5], 'versionedAt', ARGV[7]) end
return {'created', ARGV[2]}
`;

// KEYS: app hash, version-order list. ARGV: detection time (ms) of a polled change that needed
// no version, the latest version it was compared with. Raises the app's versionedAt to it (never
// lowers it) while that is still the latest version; never creates the record.
const MARK_DECIDED_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
if redis.call('LINDEX', KEYS[2], -1) ~= ARGV[2] then return 'conflict' end
local decided = redis.call('HGET', KEYS[1], 'versionedAt')
if not decided or tonumber(decided) < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'versionedAt', ARGV[1]) end
return 'ok'
`;

// KEYS: app hash, deployments hash. ARGV: deployment id. Never writes for an unregistered app.
const RECORD_DEPLOYMENT_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('HSETNX', KEYS[2], ARGV[1], '-')
`;

type WithStoreVersion = Redis & {
  mpuStoreVersion(k1: string, k2: string, k3: string, k4: string, k5: string, ...argv: string[]): Promise<[string, string]>;
  mpuRecordDeployment(app: string, deployments: string, deploymentId: string): Promise<number>;
  mpuMarkDecided(app: string, order: string, detectedAt: string, latest: string): Promise<'ok' | 'conflict' | 'gone'>;
};

/** Redis-backed version history; implements the rollout's `VersionReader`. */
export class VersionStore implements VersionReader {
  private readonly redis: WithStoreVersion;
  constructor(
    redis: Redis,
    private readonly keys: Keys,
  ) {
    if (!('mpuStoreVersion' in redis)) redis.defineCommand('mpuStoreVersion', { numberOfKeys: 5, lua: STORE_VERSION_LUA });
    if (!('mpuRecordDeployment' in redis)) redis.defineCommand('mpuRecordDeployment', { numberOfKeys: 2, lua: RECORD_DEPLOYMENT_LUA });
    if (!('mpuMarkDecided' in redis)) redis.defineCommand('mpuMarkDecided', { numberOfKeys: 2, lua: MARK_DECIDED_LUA });
    this.redis = redis as WithStoreVersion;
  }

  /** @returns the record, or null when the app or version is unknown. */
  async getVersion(appId: string, version: string): Promise<VersionRecord | null> {
    const json = await this.redis.hget(this.keys.versions(appId), version);
    return json ? (JSON.parse(json) as VersionRecord) : null;
  }

  /** All versions of an app, oldest first (empty for an unknown app). */
  async listVersions(appId: string): Promise<VersionRecord[]> {
    const [order, all] = await Promise.all([
      this.redis.lrange(this.keys.versionOrder(appId), 0, -1),
      this.redis.hgetall(this.keys.versions(appId)),
    ]);
    return order.flatMap((v) => (all[v] ? [JSON.parse(all[v]) as VersionRecord] : []));
  }

  /** The app's latest version, or null before its first. */
  async latestVersion(appId: string): Promise<VersionRecord | null> {
    const v = await this.redis.lindex(this.keys.versionOrder(appId), -1);
    return v === null ? null : this.getVersion(appId, v);
  }

  /** The version a Forge deployment produced; `-` when it was recorded without one; null when unseen. */
  async deploymentVersion(appId: string, deploymentId: string): Promise<string | null> {
    return this.redis.hget(this.keys.deployments(appId), deploymentId);
  }

  /**
   * Records a deployment that creates no version (non-production): a repeat is then recognised.
   * Writes nothing when the app is not registered (removed meanwhile).
   */
  async recordDeploymentWithoutVersion(appId: string, deploymentId: string): Promise<void> {
    await this.redis.mpuRecordDeployment(this.keys.app(appId), this.keys.deployments(appId), deploymentId);
  }

  /**
   * Records that a polled change detected at `detectedAt` (epoch ms) needed no version against
   * `latest`: the app's `versionedAt` rises to it (never falls), so an older polled change
   * retried later is refused by `storeVersion`.
   * @returns `conflict` when `latest` is no longer the latest version (classify again), `gone`
   *   when the app is not registered; nothing written then.
   */
  async markDecided(appId: string, detectedAt: number, latest: string): Promise<'ok' | 'conflict' | 'gone'> {
    return this.redis.mpuMarkDecided(this.keys.app(appId), this.keys.versionOrder(appId), String(detectedAt), latest);
  }

  /**
   * Atomically appends `record` as the app's new latest version, provided the latest version is
   * still `expectedLatest` (null = the app has none) and, for deploys, the deployment id has no
   * version yet. The descriptor `canonical` text is stored write-once in the same script, and
   * the app record's `latestVersion` / `latestHash` are set to the new version. Nothing is
   * written (`gone`) when the app's record does not exist: a removed app is never given a
   * version again by a step that was in flight when it was removed. A polled change (`source`
   * poll) detected before the app's `versionedAt` is refused (`superseded`): a later poll's change
   * was decided already, and appending this one after it would make a descriptor the vendor no
   * longer serves the latest version; an appended one moves `versionedAt` to its `detectedAt`.
   */
  async storeVersion(record: VersionRecord, expectedLatest: string | null, canonical?: string): Promise<StoreVersionResult> {
    const { appId } = record;
    const [status, v] = await this.redis.mpuStoreVersion(
      this.keys.versions(appId),
      this.keys.versionOrder(appId),
      this.keys.deployments(appId),
      this.keys.descriptor(appId, record.descriptorHash),
      this.keys.app(appId),
      expectedLatest ?? '',
      record.version,
      JSON.stringify(record),
      record.deploymentId ?? '',
      canonical ?? '',
      record.descriptorHash,
      record.source === 'poll' ? String(record.detectedAt) : '',
    );
    if (status === 'created') return { status, version: v };
    if (status === 'superseded') return { status, versionedAt: Number(v) };
    if (status === 'exists') return { status, version: v };
    if (status === 'gone') return { status };
    return { status: 'conflict', latest: v === '' ? null : v };
  }
}
