/**
 * Each app's version history in Redis (keys.ts: `versions`, `versionOrder`, `deployments`,
 * `descriptor`). A version, its place in the history, its descriptor and (for Forge) its
 * deployment id are written by one Lua script (commands/storeVersion-5.lua), guarded by the
 * latest version the caller classified against: two daemons detecting the same change produce
 * one version.
 * Every write checks that the app is registered (its record exists), so a versioning step still
 * running when the app is removed (`mpu apps remove`, app-remover.ts) writes nothing.
 */
import type { RedisConnection } from '../lib/redis-connection.js';
import type { VersionReader, VersionRecord } from './types.js';
import type { Keys } from './keys.js';
import { execAll } from '../lib/exec-all.js';
import { crossSlotPipeline } from '../lib/redis-connection.js';
import { decisionMarked, deploymentRecorded, versionStored, type StoreVersionResult } from './script-results.js';
import { defineScripts, type ScriptedRedis } from './scripts.js';

export type { StoreVersionResult } from './script-results.js';

/** Redis-backed version history; implements the rollout's `VersionReader`. */
export class VersionStore implements VersionReader {
  private readonly redis: ScriptedRedis;
  constructor(
    redis: RedisConnection,
    private readonly keys: Keys,
  ) {
    this.redis = defineScripts(redis);
  }

  /**
   * How many versions each registered app has (`<p>:apps`, then HLEN of each app's versions, in
   * pipelines of 1,000): what /metrics reports, so versions made by any process (a daemon, `mpu
   * poll`) count. An app without versions has 0.
   */
  async countVersionsByApp(): Promise<Map<string, number>> {
    const ids = await this.redis.smembers(this.keys.apps());
    const counts = new Map<string, number>();
    for (let i = 0; i < ids.length; i += 1000) {
      const page = ids.slice(i, i + 1000);
      const pipe = crossSlotPipeline(this.redis);
      for (const id of page) pipe.hlen(this.keys.versions(id));
      const replies = await execAll<number>(pipe);
      page.forEach((id, k) => counts.set(id, Number(replies[k] ?? 0)));
    }
    return counts;
  }

  /**
   * Remembers a deploy event id for `ttlMs` (ms) unless it is remembered already (SET NX PX):
   * replay protection of the deploy intake.
   * @returns true when the event is new, false when it was received within `ttlMs`.
   */
  async claimDeployEvent(eventId: string, at: number, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.keys.webhookEvent(eventId), String(at), 'PX', ttlMs, 'NX')) !== null;
  }

  /** Forgets a claimed deploy event id, so that the sender may send the same event again. */
  async releaseDeployEvent(eventId: string): Promise<void> {
    await this.redis.del(this.keys.webhookEvent(eventId));
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
    // Whether it was new or the app is gone makes no difference to the caller: nothing to do.
    const k = this.keys;
    deploymentRecorded(await this.redis.mpuRecordDeployment(k.app(appId), k.deployments(appId), deploymentId));
  }

  /**
   * Records that a polled change detected at `detectedAt` (epoch ms) needed no version against
   * `latest`: the app's `versionedAt` rises to it (never falls), so an older polled change
   * retried later is refused by `storeVersion`.
   * @returns `conflict` when `latest` is no longer the latest version (classify again), `gone`
   *   when the app is not registered; nothing written then.
   */
  async markDecided(appId: string, detectedAt: number, latest: string): Promise<'ok' | 'conflict' | 'gone'> {
    const k = this.keys;
    return decisionMarked(await this.redis.mpuMarkDecided(k.app(appId), k.versionOrder(appId), detectedAt, latest));
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
  async storeVersion(
    record: VersionRecord,
    expectedLatest: string | null,
    canonical?: string,
  ): Promise<StoreVersionResult> {
    const { appId } = record;
    const reply = await this.redis.mpuStoreVersion(
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
    return versionStored(reply);
  }
}
