/**
 * Migration of a store written before one record per installation (installation-record.ts):
 * each app's `inst:version` and `inst:history` hashes are merged into its `inst:data` records
 * (`<version>\x1f<record JSON>\x1f<history>`), then deleted.
 *
 * Idempotent and resumable: per app, an HSCAN of the data hash in chunks, each chunk merged by
 * one script call (commands/migrateRecords-4.lua: atomic, so a record is never half-written; a
 * record already merged is left alone, and the old fields are deleted as they are merged); then
 * the histories left without a record (installations an adoption moved to a Forge app) move to
 * the app's `inst:left` hash; then the old keys are unlinked. Stopped anywhere, a second run
 * finishes the work; on a migrated store it changes nothing.
 */
import type { Logger } from '../../lib/logger.js';
import type { Keys } from '../keys.js';
import type { ScriptedRedis } from '../scripts.js';

/** What the migration did to one app's installations. */
export interface RecordsMigrated {
  appId: string;
  /** Records merged with their version and history. */
  merged: number;
  /** Records dropped: they had no version (no reader of the old layout showed them). */
  dropped: number;
  /** Histories of installations that had left the app, moved to `inst:left`. */
  left: number;
}

/** The old layout's per-app version hash (id → version). */
export const oldVersionKey = (keys: Keys, appId: string): string => `${keys.app(appId)}:inst:version`;
/** The old layout's per-app history hash (id → `;`-separated entries). */
export const oldHistoryKey = (keys: Keys, appId: string): string => `${keys.app(appId)}:inst:history`;

/**
 * Migrates every registered app (the `apps` set) whose old version or history hash exists.
 * @param chunk ids per HSCAN page and script call
 * @returns one entry per app migrated (apps without old keys are not listed)
 * @throws the connection's errors (run it again to finish)
 */
export async function migrateRecords(
  redis: ScriptedRedis,
  keys: Keys,
  logger: Logger,
  chunk = 1000,
): Promise<RecordsMigrated[]> {
  const out: RecordsMigrated[] = [];
  for (const appId of (await redis.smembers(keys.apps())).sort()) {
    const oldVersion = oldVersionKey(keys, appId);
    const oldHistory = oldHistoryKey(keys, appId);
    // Two single-key commands: EXISTS of several keys is one slot only on a cluster (they are).
    if ((await redis.exists(oldVersion, oldHistory)) === 0) continue;
    const r: RecordsMigrated = { appId, merged: 0, dropped: 0, left: 0 };
    const run = async (key: string, mode: 'records' | 'left') => {
      let cursor = '0';
      do {
        const [next, flat] = await redis.hscan(key, cursor, 'COUNT', chunk);
        cursor = next;
        const ids: string[] = [];
        for (let i = 0; i < flat.length; i += 2) ids.push(flat[i]!);
        if (ids.length === 0) continue;
        const [merged, dropped] = await redis.mpuMigrateRecords(
          keys.installationData(appId),
          oldVersion,
          oldHistory,
          keys.installationsLeft(appId),
          mode,
          ...ids,
        );
        if (mode === 'records') {
          r.merged += Number(merged);
          r.dropped += Number(dropped);
        } else r.left += Number(merged);
      } while (cursor !== '0');
    };
    await run(keys.installationData(appId), 'records');
    await run(oldHistory, 'left');
    // What is left: versions of ids without a record (no reader of the old layout showed them).
    await redis.unlink(oldVersion, oldHistory);
    logger.info(
      { event: 'store:migrate:records', ...r },
      `store migration: ${appId}: ${r.merged} installation(s) merged into one record each` +
        (r.dropped ? `, ${r.dropped} record(s) without a version dropped` : '') +
        (r.left ? `, ${r.left} history(ies) of installations that left kept in inst:left` : ''),
    );
    out.push(r);
  }
  return out;
}
