/**
 * The store's migrations, run once at daemon start and by CLI commands that open the store
 * (main.ts `startDaemon`, `openContext`) before anything reads or writes installations.
 *
 * The store records the number of its key layout in `<p>:layout` (keys.ts `layout`); absent, it
 * is layout 1 (every store written before migrations existed). Each migration takes the store to
 * the next layout and the number is written once it is done, so on a store in the current layout
 * the runner is one GET. Every migration is idempotent and resumable (a daemon killed halfway,
 * or two daemons starting at once, finish it by running it again), and logs what it did per app.
 */
import type { Logger } from '../lib/logger.js';
import type { RedisConnection } from '../lib/redis-connection.js';
import type { Keys } from './keys.js';
import { migrateIndexes } from './migrations/indexes.js';
import { migrateRecords } from './migrations/records.js';
import { migrateWindowed } from './migrations/windowed.js';
import { defineScripts, type ScriptedRedis } from './scripts.js';

/** One migration: it takes the store from layout `to - 1` to `to`. */
interface Migration {
  to: number;
  name: string;
  run(redis: ScriptedRedis, keys: Keys, logger: Logger): Promise<unknown>;
}

/**
 * The migrations in order. Layout 1: the layout before migrations (version, data and history in
 * three hashes per app; one global installation index and a by-site index per app). Layout 2:
 * one record per installation (migrations/records.ts). Layout 3: the installation indexes in
 * buckets (migrations/indexes.ts), after the records: it checks each old entry against the
 * installation's record, read in the new layout. Layout 4: each app's set of the installations
 * whose record has maintenance windows (keys.ts `installationWindowed`, migrations/windowed.ts),
 * built from the records in the layout-2 form (so after that migration), kept from then on by
 * the scripts that write records.
 */
const MIGRATIONS: readonly Migration[] = [
  { to: 2, name: 'records', run: migrateRecords },
  {
    to: 3,
    name: 'indexes',
    run: async (redis, keys, logger) => {
      const r = await migrateIndexes(redis, keys);
      logger.info(
        { event: 'store:migrate:indexes', ...r },
        `store migration: installation indexes bucketed: ${r.ids} id and ${r.sites} site entries written, ` +
          `${r.dropped} dropped, ${r.keysDeleted} old key(s) deleted`,
      );
    },
  },
  { to: 4, name: 'windowed', run: migrateWindowed },
];

/** The layout this code reads and writes. */
export const STORE_LAYOUT = MIGRATIONS[MIGRATIONS.length - 1]!.to;

/**
 * Brings the store to `STORE_LAYOUT`, running the migrations it has not had, in order.
 * @returns the layout found and the layout now
 * @throws the connection's errors (the next start runs the rest)
 */
export async function migrateStore(
  redis: RedisConnection,
  keys: Keys,
  logger: Logger,
): Promise<{ from: number; to: number }> {
  const from = Number((await redis.get(keys.layout())) ?? '1');
  if (from >= STORE_LAYOUT) return { from, to: from };
  // A store without any app (a new deployment) has nothing to migrate: marked at once, without
  // the migrations' scans (the indexes' one SCANs the whole keyspace for old by-site hashes).
  if ((await redis.exists(keys.apps())) === 0) {
    await redis.set(keys.layout(), String(STORE_LAYOUT));
    return { from, to: STORE_LAYOUT };
  }
  const scripted = defineScripts(redis);
  for (const m of MIGRATIONS) {
    if (m.to <= from) continue;
    logger.info({ event: 'store:migrate', migration: m.name, layout: m.to }, `store migration '${m.name}' started`);
    await m.run(scripted, keys, logger);
    await redis.set(keys.layout(), String(m.to));
    logger.info({ event: 'store:migrate', migration: m.name, layout: m.to }, `store migration '${m.name}' done`);
  }
  return { from, to: STORE_LAYOUT };
}
