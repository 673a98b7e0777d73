/**
 * Rules of running a bulk major-version upgrade (DESIGN.md "Distribution rules", seeds 000 and
 * 001, `forge version bulk-upgrade`), pure: which installations a bulk upgrade moves, when a
 * maintenance window lets it, and which concurrency limit refuses a new one. The eligibility of
 * the versions themselves is src/versioning/bulk-upgrade.ts (`checkBulkUpgrade`).
 */
import semver from 'semver';
import type { MaintenanceWindows } from './types.js';
import { deferForMaintenance } from './windows.js';

/**
 * Why an installation in a bulk upgrade's scope was not moved (counted as failed, by reason):
 * - `not-installed`: no such installation of the app (never registered, removed, or another app's);
 * - `not-on-source-major`: it runs another major version than the bulk upgrade's source (it
 *   left it meanwhile, or, for an explicit list, never ran it);
 * - `approved-past-target`: its admins approved a version beyond the target, which the ordinary
 *   rollout gives it; a bulk upgrade never moves an installation backwards from what was approved.
 */
export type BulkSkipReason = 'not-installed' | 'not-on-source-major' | 'approved-past-target';

/** Every skip reason, in the order reports list them. */
export const BULK_SKIP_REASONS: readonly BulkSkipReason[] = [
  'not-installed',
  'not-on-source-major',
  'approved-past-target',
];

/** Each skip reason in words, for reports (`start --dry-run`, `list`). */
export const BULK_SKIP_WORDS: Readonly<Record<BulkSkipReason, string>> = {
  'not-installed': 'not an installation of this app (unknown, removed or another app’s)',
  'not-on-source-major': 'does not run the source major version (any more)',
  'approved-past-target': 'its admins approved a version beyond the target',
};

/** What a bulk upgrade does with one installation now. */
export type BulkMoveDecision =
  | { kind: 'move' }
  | { kind: 'skip'; reason: BulkSkipReason }
  /** In a maintenance window: look again at `until` (epoch ms). */
  | { kind: 'defer'; until: number };

/** What `decideBulkMove` reads about one installation and its bulk upgrade. */
export interface BulkMoveInput {
  /** The version it runs, or null when it is not (any more) an installation of the app. */
  current: string | null;
  /** Highest version its admins approved, or null. */
  approvedUpTo: string | null;
  /** The bulk upgrade's source major version, e.g. 2. */
  fromMajor: number;
  /** The version it moves to, e.g. `3.0.0`. */
  target: string;
  windows: MaintenanceWindows | null;
  /** When its batch was due (epoch ms): a window defers the move from here, at most `capMs`. */
  dueAt: number;
  /** Now, epoch ms. */
  now: number;
  /** Longest deferral by a maintenance window, ms [seed 003: 4 h]. */
  capMs: number;
}

/**
 * Decides one installation: skipped with its reason (see `BulkSkipReason`), deferred while a
 * maintenance window holds it (to the window's end, at most `capMs` after `dueAt`, as every
 * upgrade is: DESIGN.md "Rollout rules"), else moved. Pure.
 */
export function decideBulkMove(i: BulkMoveInput): BulkMoveDecision {
  const cur = i.current === null ? null : semver.parse(i.current);
  if (cur === null) return { kind: 'skip', reason: 'not-installed' };
  if (cur.major !== i.fromMajor) return { kind: 'skip', reason: 'not-on-source-major' };
  if (i.approvedUpTo !== null && semver.valid(i.approvedUpTo) && semver.gt(i.approvedUpTo, i.target))
    return { kind: 'skip', reason: 'approved-past-target' };
  const at = deferForMaintenance(i.windows, i.dueAt, i.capMs);
  return at > i.now ? { kind: 'defer', until: at } : { kind: 'move' };
}

/** A running bulk upgrade, as the limits see it. */
export interface RunningBulkUpgrade {
  id: string;
  appId: string;
  environment: string;
  /** The developer account that started it (an API token's name, or `--account`). */
  account: string;
}

/** Which limit refuses a new bulk upgrade, and the running one in the way (none for `global`). */
export type BulkLimitRefusal =
  | { limit: 'environment'; blocking: string; message: string }
  | { limit: 'account'; blocking: string; message: string }
  | { limit: 'global'; message: string; retryAfterSeconds: number };

/** How long a refusal by the global limit asks to wait before a retry [seed 000: "around 30 minutes"]. */
export const GLOBAL_LIMIT_RETRY_AFTER_SECONDS = 1800;

/**
 * The limits of seeds 000/001 ("Limitations of the bulk upgrade feature"): one running bulk
 * upgrade per app environment, one per developer account, and at most `globalLimit` at once
 * overall (whose refusal says to wait about 30 minutes and retry). The first that refuses, in
 * that order, or null. Pure.
 */
export function checkBulkLimits(
  running: readonly RunningBulkUpgrade[],
  request: Omit<RunningBulkUpgrade, 'id'>,
  globalLimit: number,
): BulkLimitRefusal | null {
  const env = running.find((r) => r.appId === request.appId && r.environment === request.environment);
  if (env)
    return {
      limit: 'environment',
      blocking: env.id,
      message:
        `bulk upgrade ${env.id} of ${request.appId} in ${request.environment} is still running: ` +
        'an app runs one bulk upgrade per environment at a time (wait for it, or cancel it)',
    };
  const acct = running.find((r) => r.account === request.account);
  if (acct)
    return {
      limit: 'account',
      blocking: acct.id,
      message:
        `bulk upgrade ${acct.id} (of ${acct.appId}) started by account '${request.account}' is still running: ` +
        'a developer account runs one bulk upgrade at a time',
    };
  if (running.length >= globalLimit)
    return {
      limit: 'global',
      retryAfterSeconds: GLOBAL_LIMIT_RETRY_AFTER_SECONDS,
      message:
        `the global limit of ${globalLimit} concurrent bulk upgrade(s) is reached: ` +
        'wait around 30 minutes and retry',
    };
  return null;
}

/** The counters of a bulk upgrade. */
export interface BulkCounts {
  /** Installations in scope (found on the source major, or listed); grows while it is planned. */
  total: number;
  completed: number;
  failed: number;
}

/** Installations in scope not moved nor failed yet (0 or more). Pure. */
export function bulkPending(c: BulkCounts): number {
  return Math.max(0, c.total - c.completed - c.failed);
}
