/**
 * The ordered versions of one app, with fast ranks (semver parsing a million times is slow) and
 * the pure decider of DESIGN.md "Rollout rules": which version an installation may run now.
 */
import semver from 'semver';
import type { PlannedVersion } from './types.js';

/** Versions of one app sorted by semver, with memoised ranks. */
export class VersionLadder {
  readonly versions: readonly PlannedVersion[];
  private readonly ranks = new Map<string, number>();

  /**
   * Phased releases in progress (rollout/phased-release.ts): version → the percentage its phase
   * has reached; null when no version of the ladder is phased.
   */
  readonly phases: ReadonlyMap<string, number> | null;

  /**
   * @param versions any order; invalid semver strings are dropped.
   * @param phases the phased versions and their current percentage (absent or empty: none)
   */
  constructor(versions: readonly PlannedVersion[], phases?: ReadonlyMap<string, number>) {
    this.phases = phases && phases.size > 0 ? phases : null;
    this.versions = versions
      .filter((v) => semver.valid(v.version))
      .sort((a, b) => semver.compare(a.version, b.version));
    this.versions.forEach((v, i) => this.ranks.set(v.version, i));
  }

  /**
   * Rank of `version`: its index when listed, else a half-step between neighbours (e.g. 1.5 for a
   * version between the 2nd and 3rd), -0.5 before all; NaN for an invalid string.
   */
  rank(version: string | null | undefined): number {
    if (version === null || version === undefined || version === '') return -0.5;
    const known = this.ranks.get(version);
    if (known !== undefined) return known;
    if (!semver.valid(version)) return NaN;
    let lo = 0;
    let hi = this.versions.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (semver.lt(this.versions[mid]!.version, version)) lo = mid + 1;
      else hi = mid;
    }
    const r = lo - 0.5;
    if (this.ranks.size < 10_000) this.ranks.set(version, r);
    return r;
  }

  get(rank: number): PlannedVersion | undefined {
    return this.versions[rank];
  }

  /** Newest version published at or before `now`, or undefined. */
  latestPublished(now: number): PlannedVersion | undefined {
    for (let i = this.versions.length - 1; i >= 0; i--)
      if (this.versions[i]!.publishedAt <= now) return this.versions[i];
    return undefined;
  }
}

/** The decider's answer for one installation. */
export interface TargetDecision {
  /** Version to move to now, or null to stay. */
  target: string | null;
  /** Manual versions passed on the way (approved by its admins), oldest first. */
  approvedBetween: string[];
  /** First newer published manual version it has not approved (it blocks later automatic ones), or null. */
  blockedBy: string | null;
}

/**
 * Which version an installation may run at `now` [seed 003]: walking the versions newer than `current` and published by `now`, automatic ones
 * are taken, manual ones only when approved (`approvedUpTo` ≥ it); the first unapproved manual
 * version stops the walk, so no later automatic version passes it. The target is the newest
 * reached: a newer version supersedes an older one still rolling out, and an installation never
 * moves backwards.
 *
 * A phased automatic version (`ladder.phases`) is taken only by an installation whose `cohort`
 * (rollout/phased-release.ts `cohortOf`) is below the percentage its phase has reached; the walk
 * goes on past it (a later unphased version may still be taken). Without `cohort` no phase is
 * checked.
 */
export function decideTarget(
  ladder: VersionLadder,
  current: string,
  approvedUpTo: string | null,
  now: number,
  cohort?: number,
): TargetDecision {
  const phases = cohort === undefined ? null : ladder.phases;
  const from = ladder.rank(current);
  const approved = approvedUpTo === null ? -1 : ladder.rank(approvedUpTo);
  const res: TargetDecision = { target: null, approvedBetween: [], blockedBy: null };
  if (Number.isNaN(from)) return res;
  for (let i = Math.floor(from) + 1; i < ladder.versions.length; i++) {
    const v = ladder.versions[i]!;
    if (v.publishedAt > now) break;
    if (v.approval === 'automatic') {
      const percent = phases?.get(v.version);
      if (percent === undefined || cohort! < percent) res.target = v.version;
    } else if (i <= approved) {
      res.target = v.version;
      res.approvedBetween.push(v.version);
    } else {
      res.blockedBy = v.version;
      break;
    }
  }
  return res;
}
