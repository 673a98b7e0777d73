/**
 * Migration of a store written before each app kept the set of its installations with
 * maintenance windows (keys.ts `installationWindowed`): the set is built from the app's records.
 *
 * Per app with installations (the `apps` set, and every app whose data hash a SCAN finds: an app
 * id may hold installations before, or without, its app record, and a later rollout of it reads
 * the set): an HSCAN of its data hash, a page of
 * `chunk` ids at a time, each page handed to commands/syncWindowed-2.lua, which reads the records
 * again and adds the ids whose record has windows (removing those whose record has none), in one
 * atomic step per page; then an SSCAN of the set, whose members go through the same script, so a
 * member whose record is gone or lost its windows leaves it. A registration or adoption of the
 * new code running meanwhile keeps the set itself, and the script reads each record when it
 * writes, so neither undoes the other. Idempotent (a page run twice writes the same) and
 * resumable: stopped anywhere, a second run starts each app's scan again and finishes it; on a
 * store whose sets are exact it changes nothing.
 */
import type { Logger } from '../../lib/logger.js';
import { scanKeys } from '../../lib/redis-connection.js';
import { escapeGlob } from '../app-remover.js';
import type { Keys } from '../keys.js';
import type { ScriptedRedis } from '../scripts.js';

/** What the migration did to one app's set. */
export interface WindowedMigrated {
  appId: string;
  /** Records read (ids of the data hash; an id the HSCAN returned twice counts twice). */
  records: number;
  /** Ids added to the set. */
  added: number;
  /** Ids removed from it (their record has no windows, or is gone). */
  removed: number;
  /** The set's size at the end. */
  windowed: number;
}

/**
 * Builds the windowed set of every app that has installations (see the module
 * documentation), logging one line per app.
 * @param chunk ids per HSCAN/SSCAN page and script call
 * @returns one entry per app with a data hash, in app id order
 * @throws the connection's errors (run it again to finish)
 */
export async function migrateWindowed(
  redis: ScriptedRedis,
  keys: Keys,
  logger: Logger,
  chunk = 1000,
): Promise<WindowedMigrated[]> {
  const out: WindowedMigrated[] = [];
  const apps = new Set(await redis.smembers(keys.apps()));
  const head = `${keys.prefix}:app:{`;
  const tail = '}:inst:data';
  for await (const page of scanKeys(redis, `${escapeGlob(head)}*${escapeGlob(tail)}`, chunk))
    for (const key of page) {
      const appId = key.slice(head.length, -tail.length);
      if (keys.installationData(appId) === key) apps.add(appId);
    }
  for (const appId of [...apps].sort()) {
    const data = keys.installationData(appId);
    const windowed = keys.installationWindowed(appId);
    if ((await redis.exists(data)) === 0) continue;
    const r: WindowedMigrated = { appId, records: 0, added: 0, removed: 0, windowed: 0 };
    const sync = async (ids: string[]) => {
      if (ids.length === 0) return;
      const [added, removed] = await redis.mpuSyncWindowed(data, windowed, ...ids);
      r.added += Number(added);
      r.removed += Number(removed);
    };
    let cursor = '0';
    do {
      const [next, flat] = await redis.hscan(data, cursor, 'COUNT', chunk);
      cursor = next;
      const ids: string[] = [];
      for (let i = 0; i < flat.length; i += 2) ids.push(flat[i]!);
      r.records += ids.length;
      await sync(ids);
    } while (cursor !== '0');
    // Members whose record is not in the data hash any more (the HSCAN did not see them).
    do {
      const [next, members] = await redis.sscan(windowed, cursor, 'COUNT', chunk);
      cursor = next;
      await sync(members);
    } while (cursor !== '0');
    r.windowed = await redis.scard(windowed);
    logger.info(
      { event: 'store:migrate:windowed', ...r },
      `store migration: ${appId}: ${r.windowed} of ${r.records} installation(s) with maintenance windows` +
        (r.added || r.removed ? ` (${r.added} added to the set, ${r.removed} removed)` : ' (the set was exact)'),
    );
    out.push(r);
  }
  return out;
}
