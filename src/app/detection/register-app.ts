/**
 * Registering apps (`mpu apps add`): a Connect app is stored and scheduled for a poll at once
 * (the next scheduler tick), which is the poll of the slot it falls in; then every interval at
 * its stable offset, the first no sooner than half an interval later (poll-schedule.ts
 * `nextPollDueAt`).
 */
import type { AppRecord } from '../../store/app-store.js';
import type { ConnectProduct } from '../../versioning/index.js';
import type { DetectionDeps } from './detection-deps.js';

/**
 * Registers a Connect app and schedules its first poll now: its first version does not wait for
 * its slot (DESIGN.md "Detection rules"). Scheduled only if absent (ZADD NX): a registration that
 * races a tick, or one repeated, never moves a due time the scheduler already set (back to now,
 * which would poll it twice). `opts.product` is stored with it: its changes are classified by that
 * product's scope rules (DESIGN.md, "Connect scopes differ by product"), not inferred.
 * @throws AppError app-conflict, input-invalid
 */
export async function registerConnectApp(
  deps: Pick<DetectionDeps, 'apps' | 'schedule' | 'clock'>,
  id: string,
  descriptorUrl: string,
  opts: { product?: ConnectProduct } = {},
): Promise<AppRecord> {
  const now = deps.clock.now();
  const app = await deps.apps.addConnectApp({ id, descriptorUrl, now, ...opts });
  await deps.schedule.scheduleIfAbsent(id, now);
  return app;
}

/** Registers a Forge app by ARI. @throws AppError app-conflict, input-invalid */
export async function registerForgeApp(deps: Pick<DetectionDeps, 'apps' | 'clock'>, ari: string): Promise<AppRecord> {
  return deps.apps.addForgeApp({ ari, now: deps.clock.now() });
}
