/**
 * Unregistering an app (`mpu apps remove`): the counterpart of register-app.ts. Its polling
 * stops at once and its data is deleted: record, schedule entry, versions, descriptors,
 * deployments, installations (and their index entries), rollouts (and their index entries),
 * bulk upgrades (and their running-set and index entries).
 * The store does the deleting (store/app-remover.ts, which also says why a daemon running
 * meanwhile neither crashes nor re-creates anything); this module checks the app and logs.
 */
import type { Logger } from '../../lib/logger.js';
import type { AppRecord, AppStore } from '../../store/app-store.js';
import type { AppInventory, AppRemover, RemovedAppData } from '../../store/app-remover.js';
import type { AppKind } from '../../versioning/types.js';

/** What removing an app needs. */
export interface RemoveAppDeps {
  apps: Pick<AppStore, 'requireApp'>;
  remover: Pick<AppRemover, 'inventory' | 'remove'>;
  logger: Logger;
}

/** What would be removed: the app and its counts (for a confirmation). */
export interface AppRemovalPreview {
  app: AppRecord;
  inventory: AppInventory;
}

/** What was removed. Counts are those found when the removal started. */
export interface RemovedApp extends RemovedAppData {
  kind: AppKind;
}

/**
 * Reads what `removeApp` would delete, without deleting anything.
 * @throws AppError app-not-found (see 'mpu apps list')
 */
export async function previewAppRemoval(deps: RemoveAppDeps, appId: string): Promise<AppRemovalPreview> {
  const app = await deps.apps.requireApp(appId);
  return { app, inventory: await deps.remover.inventory(appId) };
}

/**
 * Removes a registered app and all its data. Logs `app:remove` then `app:removed` (with the
 * counts) naming the app.
 * @throws AppError app-not-found when `appId` is not registered (nothing is deleted). A Redis
 *   error part-way is rethrown: the app is unregistered by then (its record is deleted first)
 *   and `AppRemover.remove(appId)`, which is idempotent, deletes what is left.
 */
export async function removeApp(deps: RemoveAppDeps, appId: string): Promise<RemovedApp> {
  const app = await deps.apps.requireApp(appId);
  deps.logger.info({ event: 'app:remove', appId, kind: app.kind }, `removing ${app.kind} app ${appId}`);
  const removed = await deps.remover.remove(appId);
  const result: RemovedApp = { ...removed, kind: app.kind };
  deps.logger.info(
    {
      event: 'app:removed',
      appId,
      kind: app.kind,
      keys: removed.keys,
      versions: removed.versions,
      installations: removed.installations,
      rollouts: removed.rollouts,
      bulkUpgrades: removed.bulkUpgrades,
    },
    `removed ${app.kind} app ${appId}: ${removed.versions} version(s), ${removed.installations} installation(s), ${removed.rollouts} rollout(s), ${removed.keys} key(s)`,
  );
  return result;
}
