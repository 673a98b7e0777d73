/**
 * Late installations (DESIGN.md "Rollout rules" [seed 003]; "impossible to make lose an update"):
 * an installation registered after a version's plan has read the installation list is planned
 * here, by the same rules as a planned one, with the window measured from when it became known.
 * Pure: versions, the plans' coverage and the registration time are passed in.
 *
 * Coverage. Installations are numbered by their position in the app's registration list (an
 * append-only list; see keys.ts `installationIds`). A finished plan of a version covers exactly
 * the positions below its `planEnd` (the store ends a plan only when its cursor has reached the
 * end of the list, atomically, see `RolloutStore.finishPlanning`), and a plan that has not
 * finished (or not started) will cover every position that exists now. So an installation at
 * `position` needs a late step for version V exactly when V's plan finished with
 * `planEnd <= position`; every other version's plan handles it itself.
 *
 * Condensing. The planner puts an installation in the plan of every newer version; upgrade
 * batches then take it to the newest version it may have (`decideTarget`), so it moves once. A
 * late installation instead gets one upgrade step, in the newest version it may reach among those
 * it needs a late step for; its batch (source `late`) takes it to the newest version it may have
 * at run time, and still runs when that version is halted (it then acts for the older versions it
 * stood in for) or paused (it applies what it can, then waits for the resume). A manual version
 * it has not approved gets a notify step, as in the planner.
 */
import type { PlannedVersion, RolloutPolicy } from './types.js';
import { automaticUpgradeAt, bucketTime, nextCheckAt, type PlanInput } from './plan-rollout.js';
import { VersionLadder } from './version-ladder.js';
import { maintenanceWindowEnd } from './windows.js';
import type { MaintenanceWindows } from './types.js';

/** What the late planner reads of one installation: the planner's row plus where and when it was registered. */
export interface LateInput extends PlanInput {
  /** Position in the app's registration list (0-based). */
  position: number;
  /** Registration time, epoch ms: its window starts here, never earlier. */
  knownAt: number;
}

/** A version whose plan has finished (and was not halted), with the positions it covered: `0 … planEnd - 1`. */
export interface FinishedPlan {
  version: string;
  planEnd: number;
}

/**
 * One late step (times epoch ms):
 * - `upgrade` of the installation through `version`'s rollout at `at` (bucket time, ≥ `knownAt`);
 *   `dueAt` is its check (Connect) or spread slot (Forge) after it became known, `exactAt` after
 *   maintenance deferral (≤ `dueAt` + 4 h);
 * - `notify`: the manual `version` shows "update available" at its next check after `knownAt`.
 */
export type LateStep =
  | { kind: 'upgrade'; version: string; at: number; exactAt: number; dueAt: number }
  | { kind: 'notify'; version: string; at: number };

/**
 * The bucket time of a late step: `bucketTime`'s choice on the grid anchored at the version's
 * publication, unless that is before `start` (the installation was not known yet); then the next
 * grid point when it is outside every window and within the cap, else `exact` itself. So a late
 * step is never before `start`, never inside a maintenance window unless the 4 h cap forced it,
 * and never later than `due + capMs`.
 * @param exact deferred upgrade time (≥ due ≥ start), epoch ms
 */
export function lateBucketTime(
  exact: number,
  due: number,
  start: number,
  anchor: number,
  bucketMs: number,
  windows: MaintenanceWindows | null,
  capMs: number,
): number {
  const t = bucketTime(exact, due, anchor, bucketMs, windows, capMs);
  if (t >= start) return t;
  const next = anchor + Math.ceil((start - anchor) / bucketMs) * bucketMs;
  return next <= due + capMs && maintenanceWindowEnd(windows, next) === null ? next : exact;
}

/** Everything the late planner needs about one app: its versions and which plans have finished. */
export class LatePlanContext {
  readonly ladder: VersionLadder;
  private readonly planEnds: Map<string, number>;
  /** The smallest `planEnd`: installations below it were planned by every finished plan (Infinity when none finished). */
  readonly minPlanEnd: number;

  /**
   * @param versions every version of the app except those whose rollout is halted (any order)
   * @param finished the versions whose plan finished, with their `planEnd`
   */
  constructor(
    versions: readonly PlannedVersion[],
    finished: readonly FinishedPlan[],
    readonly policy: RolloutPolicy,
  ) {
    this.ladder = new VersionLadder(versions);
    this.planEnds = new Map(
      finished
        .filter((f) => this.ladder.versions.some((v) => v.version === f.version))
        .map((f) => [f.version, f.planEnd]),
    );
    this.minPlanEnd = this.planEnds.size ? Math.min(...this.planEnds.values()) : Infinity;
  }

  /**
   * The late steps of one installation: at most one `upgrade` (the newest version it may reach
   * whose plan did not cover it) and a `notify` for each unapproved manual version whose plan did
   * not cover it. Empty when it runs the newest version, when every newer version's plan covers
   * it, or when an unapproved manual version blocks every newer automatic one [seed 003].
   */
  steps(inst: LateInput): LateStep[] {
    const ladder = this.ladder;
    const from = ladder.rank(inst.version);
    if (Number.isNaN(from)) return [];
    const approved = inst.approvedUpTo === null ? -1 : ladder.rank(inst.approvedUpTo);
    const out: LateStep[] = [];
    let blocked = false;
    let upgrade: PlannedVersion | undefined;
    for (let i = Math.floor(from) + 1; i < ladder.versions.length; i++) {
      const v = ladder.get(i)!;
      const end = this.planEnds.get(v.version);
      const late = end !== undefined && end <= inst.position;
      if (v.approval === 'manual' && i > approved) {
        if (late) out.push(this.notifyStep(v, inst));
        blocked = true; // no later automatic version passes an unapproved manual one
      } else if (!blocked && late) {
        upgrade = v; // the newest reachable one wins: its batch takes the installation to the newest it may have
      }
    }
    if (upgrade) out.unshift(this.upgradeStep(upgrade, inst));
    return out;
  }

  private bucketMs(v: PlannedVersion): number {
    return v.kind === 'connect' ? this.policy.connectBucketMs : this.policy.forgeBucketMs;
  }

  private upgradeStep(v: PlannedVersion, inst: LateInput): LateStep {
    const start = Math.max(v.publishedAt, inst.knownAt);
    // The planner's rule with the publication replaced by "when it became known": Connect, its next
    // daily check; Forge, a stable slot within the spread; both deferred by maintenance (≤ 4 h).
    const { at: exactAt, due: dueAt } = automaticUpgradeAt({ ...v, publishedAt: start }, inst, this.policy);
    const at = lateBucketTime(
      exactAt,
      dueAt,
      start,
      v.publishedAt,
      this.bucketMs(v),
      inst.maintenance,
      this.policy.maintenanceCapMs,
    );
    return { kind: 'upgrade', version: v.version, at, exactAt, dueAt };
  }

  private notifyStep(v: PlannedVersion, inst: LateInput): LateStep {
    const start = Math.max(v.publishedAt, inst.knownAt);
    const check = nextCheckAt(inst.checkOffsetMs, start, this.policy.checkIntervalMs);
    const bucketMs = this.bucketMs(v);
    return {
      kind: 'notify',
      version: v.version,
      at: lateBucketTime(check, check, start, v.publishedAt, bucketMs, null, bucketMs),
    };
  }
}
