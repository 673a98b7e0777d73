/**
 * Migration of a store written before the installation indexes were bucketed: the global index
 * `<p>:installations` (one HASH, installation id → app id) and each app's by-site index
 * `<p>:app:{<appId>}:inst:site` (site → installation id) move into the buckets
 * (keys.ts `installationIndexBucket`, `siteIndexBucket`; installation-index.ts), and the old
 * keys are deleted.
 *
 * Chunked: each old hash is read by HSCAN, a page of `count` entries at a time; each page's
 * entries are checked against the records (an entry whose app has no record of the id, or whose
 * installation is not on that site any more, is dropped: the old layout kept such leftovers) and
 * written to the buckets through the same rules as a registration (a taken digest gets the
 * fallback field; an id the buckets already give to another app, registered since by the new
 * code, keeps it). Resumable: the HSCAN cursor of the key being migrated is saved after each page
 * (keys.ts `indexMigration`), so a run that stopped resumes from its last page; an old key is
 * UNLINKed once its scan is complete. Idempotent: every write sets what the old entry said, and a
 * finished migration finds no old key.
 *
 * Run it with the new code only (the new code never reads the old keys: until it has run,
 * installations registered before are not found by id or site), once per key prefix, before
 * serving lookups. Redis Cluster: the old global index is one key; the by-site hashes are found
 * by SCAN on every master; each bucket write is a command of its own slot.
 */
import type { RedisConnection } from '../../lib/redis-connection.js';
import { crossSlotPipeline, scanKeys } from '../../lib/redis-connection.js';
import { execAll } from '../../lib/exec-all.js';
import { escapeGlob } from '../app-remover.js';
import { InstallationIndex } from '../installation-index.js';
import { InstallationStore } from '../installation-store.js';
import type { Keys } from '../keys.js';
import { defineScripts } from '../scripts.js';

/** What `migrateIndexes` did. */
export interface IndexMigrationReport {
  /** Global index entries written to the buckets. */
  ids: number;
  /** By-site entries written to the buckets. */
  sites: number;
  /** Old entries dropped: no record behind them, or the id is another app's in the buckets. */
  dropped: number;
  /** Old keys deleted. */
  keysDeleted: number;
}

/**
 * Moves the old unbucketed indexes of `keys.prefix` into the buckets (see the module
 * documentation), `count` entries per page (default 1,000).
 * @throws the connection's errors (run it again: it resumes)
 */
export async function migrateIndexes(
  redis: RedisConnection,
  keys: Keys,
  opts: { count?: number } = {},
): Promise<IndexMigrationReport> {
  const count = Math.max(1, opts.count ?? 1000);
  const scripted = defineScripts(redis);
  const store = new InstallationStore(redis, keys);
  const index = new InstallationIndex(scripted, keys, (appId, ids) => store.readSites(appId, ids));
  const report: IndexMigrationReport = { ids: 0, sites: 0, dropped: 0, keysDeleted: 0 };

  // The global index: id → app id.
  report.keysDeleted += await scanPages(redis, keys, keys.legacyInstallationIndex(), count, async (pairs) => {
    const has = await execAll<number>(
      pairs.reduce((p, [id, app]) => p.hexists(keys.installationData(app), id), crossSlotPipeline(redis)),
    );
    const items = pairs.flatMap(([id, appId], k) => (has[k] === 1 ? [{ id, appId }] : []));
    const { writes } = await index.planIdsOrConflicts(items); // conflicts: the buckets' owner stays
    await index.write(writes);
    report.ids += writes.length;
    report.dropped += pairs.length - writes.length;
  });

  // Each app's by-site index: site → id, found by SCAN (apps no longer in the apps SET included).
  const head = `${keys.prefix}:app:{`;
  const tail = '}:inst:site';
  const found = new Set<string>();
  for await (const page of scanKeys(redis, `${escapeGlob(head)}*${escapeGlob(tail)}`, count))
    for (const key of page) found.add(key);
  for (const key of found) {
    const appId = key.slice(head.length, -tail.length);
    if (keys.legacyInstallationSites(appId) !== key) continue;
    report.keysDeleted += await scanPages(redis, keys, key, count, async (pairs) => {
      const sites = await store.readSites(
        appId,
        pairs.map(([, id]) => id),
      );
      const items = pairs.flatMap(([site, id], k) => (sites[k] === site ? [{ appId, site, id }] : []));
      await index.write(await index.planSites(items));
      report.sites += items.length;
      report.dropped += pairs.length - items.length;
    });
  }
  await redis.unlink(keys.indexMigration());
  return report;
}

/**
 * HSCANs `key` from its saved cursor, a page at a time, handing each page's (field, value)
 * pairs to `handle`, saving the next cursor after each; UNLINKs the key (and forgets its cursor)
 * when the scan is complete. @returns 1 when it deleted the key, else 0
 */
async function scanPages(
  redis: RedisConnection,
  keys: Keys,
  key: string,
  count: number,
  handle: (pairs: [string, string][]) => Promise<void>,
): Promise<number> {
  let cursor = (await redis.hget(keys.indexMigration(), key)) ?? '0';
  do {
    const [next, flat] = await redis.hscan(key, cursor, 'COUNT', count);
    const pairs: [string, string][] = [];
    for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
    if (pairs.length > 0) await handle(pairs);
    cursor = next;
    if (cursor !== '0') await redis.hset(keys.indexMigration(), key, cursor);
  } while (cursor !== '0');
  const deleted = await redis.unlink(key);
  await redis.hdel(keys.indexMigration(), key);
  return deleted;
}
