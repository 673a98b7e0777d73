/**
 * Shapes of the rollout planner (DESIGN.md, "Rollout rules" [seed 003]). Pure data: no I/O here.
 * All times are epoch milliseconds (UTC); durations are milliseconds unless a name says otherwise.
 */
import type { AppKind, Approval, Bump } from '../versioning/types.js';

/** A recurring weekly maintenance window, in the installation's own time zone. */
export interface WeeklyWindow {
  /** Day of the week the window starts on: 0 = Sunday … 6 = Saturday (local time). */
  day: number;
  /** Local start time `HH:MM` (24-hour clock). */
  start: string;
  /** Length in minutes (1 … 10080); a window may run past midnight into the next day. */
  minutes: number;
}

/** A one-off maintenance window, epoch ms, `start` inclusive, `end` exclusive. */
export interface AdHocWindow {
  start: number;
  end: number;
}

/**
 * When an installation's admins do not want upgrades (DESIGN.md "Rollout rules": an upgrade that
 * falls in the window is deferred to the window's end, at most 4 h).
 */
export interface MaintenanceWindows {
  /** IANA time zone of `weekly`, e.g. `Europe/Berlin`. @defaultValue `UTC` */
  timeZone: string;
  weekly: WeeklyWindow[];
  adHoc: AdHocWindow[];
}

/** One installation of an app on a site (the Connect `clientKey` is its id). */
export interface Installation {
  /** Installation id (Connect clientKey / Forge installation id). Any non-empty string without newlines. */
  id: string;
  appId: string;
  /** Site the app is installed on, e.g. `acme.atlassian.net`. */
  site: string;
  /** Products of the site the app is installed into, e.g. `['jira']`. */
  products: string[];
  /** The version it runs now (semver). */
  version: string;
  /**
   * Its stable daily update check, as ms after 00:00 UTC (0 ≤ x < 24 h) [seed 003: "every 24 h, at
   * a stable per-installation time"].
   */
  checkOffsetMs: number;
  /** Maintenance windows; null when it has none. */
  maintenance: MaintenanceWindows | null;
  /**
   * Its admins' addresses (e.g. e-mail), each sent its own "update available" notice and
   * reminders; absent or empty: one notice per installation, addressed to its site's admins.
   */
  admins?: string[];
}

/** What the planner needs of a published version. */
export interface PlannedVersion {
  appId: string;
  kind: AppKind;
  version: string;
  bump: Bump | 'initial';
  approval: Approval;
  /** Publication time (= `VersionRecord.detectedAt`), epoch ms. */
  publishedAt: number;
}

/** Per-installation approval state. */
export interface ApprovalState {
  /** Highest version its admins approved, or null. Approving V approves every version ≤ V. */
  approvedUpTo: string | null;
}

/**
 * Rollout policy (all durations in ms). Defaults in `DEFAULT_ROLLOUT_POLICY`.
 */
export interface RolloutPolicy {
  /** Longest deferral by a maintenance window [seed 003]. @defaultValue 4 h */
  maintenanceCapMs: number;
  /** Interval of the per-installation update check [seed 003]. @defaultValue 24 h */
  checkIntervalMs: number;
  /** Connect plans group upgrade times into buckets this wide (one delayed job per bucket part). @defaultValue 5 min */
  connectBucketMs: number;
  /** Forge automatic versions reach every installation within this spread [seed 003: "within a few minutes"]. @defaultValue 5 min */
  forgeSpreadMs: number;
  /** Forge plans group upgrade times into buckets this wide. @defaultValue 15 s */
  forgeBucketMs: number;
  /**
   * A Connect app's eligible installations move to its Forge successor within this window of the
   * Forge app's first production version (DESIGN.md "Connect to Forge adoption": "rolled out
   * progressively over up to 120 hours"), maintenance deferrals included. @defaultValue 120 h
   */
  adoptionWindowMs: number;
  /** Adoption plans group move times into buckets this wide. @defaultValue 1 h */
  adoptionBucketMs: number;
}
