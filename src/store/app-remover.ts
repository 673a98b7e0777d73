/**
 * Unregistering an app (`mpu apps remove`): deletes every key of the app (all under
 * `<p>:app:{<appId>}`, see keys.ts) and its entries in the cross-app structures (the apps SET,
 * the poll schedule, the two bucketed installation indexes, the rollouts ZSET, the bulk upgrades' running set
 * and id index), without blocking Redis: SCAN
 * and ZSCAN pages, UNLINK (a hash of a million installations leaves the keyspace at once and is
 * freed by a background thread), the installation indexes cleaned a page of ids at a time.
 *
 * Safe against a daemon running meanwhile. The order is what makes it safe:
 * 1. the app leaves the apps SET and the poll schedule, and its record is deleted: nothing new is
 *    scheduled, and a poll claim or poll record already in flight finds the app `gone` (the
 *    scheduler's ZADD is `XX GT`, so it cannot put the app back either);
 * 1b. the app's entries in the by-site index (bucketed, cross-app), found from the sites its
 *    installations' records name, so before any of those records is deleted;
 * 2. the keys every other writer checks before writing are deleted next (the "guard" keys):
 *    versions (a version store and a rollout plan read them), the installations' version hash
 *    (the compare-and-set, approvals and "update available" write only where it has the id) and
 *    the rollout hashes (plan buckets, the plan's end and "superseded" write only where it
 *    exists), and the bulk upgrade records (every bulk upgrade script writes only while its
 *    record says `running`). From then on no worker of this app creates a key (see those scripts);
 * 3. the installation index entries, the rollouts ZSET entries, the bulk upgrades' entries in
 *    the running set (which would hold a place under the limits forever) and the id index, then
 *    every remaining key.
 * Removing twice is harmless (the second run finds nothing). Re-registering the same id while a
 * removal is still running is not supported: the removal may delete the new app's keys.
 *
 * Redis Cluster: every command touches one hash slot (the app's keys share the app's hash tag;
 * each global key, and each bucket of the two indexes, is a slot of its own); the SCAN of step 3
 * runs on every master.
 */
import type { RedisConnection } from '../lib/redis-connection.js';
import type { Keys } from './keys.js';
import { execAll } from '../lib/exec-all.js';
import { crossSlotPipeline, scanKeys } from '../lib/redis-connection.js';
import { parseRolloutId } from './rollout-store.js';
import { InstallationStore } from './installation-store.js';
import { defineScripts, type ScriptedRedis } from './scripts.js';

/**
 * Escapes the Redis glob characters of `s` (`*`, `?`, `[`, `]` and `\`, see the KEYS/SCAN
 * documentation), so that `escapeGlob(s)` as a MATCH pattern matches `s` and nothing else.
 * Pure.
 */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

/** What an app holds, as counted before a removal (for the confirmation and the report). */
export interface AppInventory {
  appId: string;
  /** Versions in its history. */
  versions: number;
  /** Installations registered to it. */
  installations: number;
  /** Its rollouts (entries of the rollouts index). */
  rollouts: number;
}

/** What `AppRemover.remove` deleted. */
export interface RemovedAppData extends AppInventory {
  /** Whether the app record (HASH `<p>:app:{<appId>}`) existed and was deleted by this call. */
  recordDeleted: boolean;
  /** Redis keys deleted, the app record included (each hash, list, string counts once). */
  keys: number;
  /** Entries of the global installation index deleted (its by-site entries are not counted). */
  installationIndexEntries: number;
  /** Its bulk upgrades (their records, running-set and index entries deleted). */
  bulkUpgrades: number;
}

/** Options of a removal. */
export interface RemoveOptions {
  /**
   * Keys per SCAN page and UNLINK, installation ids per index-cleanup call, members per ZSCAN
   * page: bounds how long any single Redis command runs. @defaultValue 1000
   */
  batchSize?: number;
}

/** Redis-backed removal of an app's data (see the module documentation for the order). */
export class AppRemover {
  private readonly redis: ScriptedRedis;
  constructor(
    redis: RedisConnection,
    private readonly keys: Keys,
  ) {
    this.redis = defineScripts(redis);
  }

  /** Counts what `appId` holds (zeros for an unknown app). Reads only. */
  async inventory(appId: string, opts: RemoveOptions = {}): Promise<AppInventory> {
    const [versions, installations] = await execAll<number>(
      this.redis.pipeline().hlen(this.keys.versions(appId)).llen(this.keys.installationIds(appId)),
    );
    const rollouts = (await this.rolloutIds(appId, opts.batchSize ?? 1000)).length;
    return { appId, versions: versions!, installations: installations!, rollouts };
  }

  /**
   * Deletes everything of `appId` (whether or not it is registered: this is the store's part,
   * the use case checks the app first). Idempotent.
   * @returns what was deleted; counts of versions, installations and rollouts are those found
   *   when the removal started.
   * @throws the connection's errors (the removal can be run again to finish).
   */
  async remove(appId: string, opts: RemoveOptions = {}): Promise<RemovedAppData> {
    const batch = Math.max(1, opts.batchSize ?? 1000);
    const k = this.keys;
    // 1. Nothing new is scheduled, and claims and poll records in flight find the app gone.
    // Three hash slots: on a cluster the three commands may run in any order, which is as safe.
    const [, , recordDeleted] = await execAll<number>(
      crossSlotPipeline(this.redis).srem(k.apps(), appId).zrem(k.pollSchedule(), appId).unlink(k.app(appId)),
    );
    let keys = recordDeleted!;

    // 1b. The by-site index entries, a page of the app's ids at a time, while the records are there.
    const installs = new InstallationStore(this.redis, k);
    for (let start = 0; ; start += batch) {
      const ids = await this.redis.lrange(k.installationIds(appId), start, start + batch - 1);
      if (ids.length === 0) break;
      await installs.unindexSites(appId, ids);
    }

    // 2. The guard keys: versions, the installations' records, the rollout hashes.
    const [versionList, installations] = await execAll<string[] | number>(
      this.redis.pipeline().lrange(k.versionOrder(appId), 0, -1).llen(k.installationIds(appId)),
    );
    const versions = versionList as string[];
    const indexed = await this.rolloutIds(appId, batch);
    const rolloutVersions = new Set([...versions, ...indexed.map((id) => parseRolloutId(id).version)]);
    const bulkIds = await this.redis.zrange(k.bulkUpgrades(appId), 0, -1);
    const guards = [
      k.versions(appId),
      k.versionOrder(appId),
      k.deployments(appId),
      k.installationData(appId),
      ...[...rolloutVersions].map((v) => k.rollout(appId, v)),
      ...bulkIds.map((id) => k.bulkUpgrade(appId, id)),
    ];
    for (let i = 0; i < guards.length; i += batch) keys += await this.redis.unlink(...guards.slice(i, i + batch));

    // 3a. The installation index, a page of the app's ids at a time (the list is deleted below).
    let installationIndexEntries = 0;
    for (let start = 0; ; start += batch) {
      const ids = await this.redis.lrange(k.installationIds(appId), start, start + batch - 1);
      if (ids.length === 0) break;
      // Only the entries that still name this app (commands/unindexInstallations-1.lua, per bucket).
      installationIndexEntries += await installs.unindexIds(appId, ids);
    }
    // 3b. The rollouts index, scanned again: a plan that created its rollout meanwhile is in it.
    const rollouts = await this.rolloutIds(appId, batch);
    for (let i = 0; i < rollouts.length; i += batch)
      await this.redis.zrem(k.rollouts(), ...rollouts.slice(i, i + batch));
    // 3c. The bulk upgrades' cross-app entries: the id index, and the running set, where a
    // claim whose record was never written names the app too (the set is small: the running ones).
    const running = Object.entries(await this.redis.hgetall(k.bulkUpgradesRunning()))
      .filter(([, v]) => v.startsWith(`${appId}\t`))
      .map(([id]) => id);
    const bulkAll = [...new Set([...bulkIds, ...running])];
    for (let i = 0; i < bulkAll.length; i += batch) {
      const page = bulkAll.slice(i, i + batch);
      await execAll(
        crossSlotPipeline(this.redis)
          .hdel(k.bulkUpgradesRunning(), ...page)
          .hdel(k.bulkUpgradeIndex(), ...page),
      );
    }
    // 3d. Every remaining key of the app: descriptors, installation hashes, plan buckets…
    // One SCAN per master of a cluster; the keys found share the app's slot, so one UNLINK each page.
    for await (const found of scanKeys(this.redis, `${escapeGlob(k.app(appId))}*`, batch))
      keys += await this.redis.unlink(...found);

    return {
      appId,
      recordDeleted: recordDeleted === 1,
      keys,
      versions: versions.length,
      installations: installations as number,
      rollouts: new Set([...indexed, ...rollouts]).size,
      installationIndexEntries,
      bulkUpgrades: bulkIds.length,
    };
  }

  /** Members `<appId>@<version>` of the rollouts ZSET that belong to `appId` exactly (ZSCAN). */
  private async rolloutIds(appId: string, count: number): Promise<string[]> {
    const out = new Set<string>();
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.zscan(
        this.keys.rollouts(),
        cursor,
        'MATCH',
        `${escapeGlob(appId)}@*`,
        'COUNT',
        count,
      );
      cursor = next;
      // ZSCAN returns member, score pairs; may repeat a member.
      for (let i = 0; i < flat.length; i += 2) {
        const id = flat[i]!;
        // `a@*` also matches the rollouts of an app `a@b`: compare the parsed app id.
        if (ownedBy(id, appId)) out.add(id);
      }
    } while (cursor !== '0');
    return [...out];
  }
}

function ownedBy(rolloutId: string, appId: string): boolean {
  try {
    return parseRolloutId(rolloutId).appId === appId;
  } catch {
    return false;
  }
}
