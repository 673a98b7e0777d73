/**
 * The rollout planner (DESIGN.md "Rollout rules" [seed 003]). Pure: the
 * publication time and `now` are passed in. The plan of a version is a stream of time buckets of
 * installation ids (`PlanBucket`), produced chunk by chunk, never an array of a million objects;
 * `PlanSummary` gives counts and p50 / p99 / max delay.
 */
import type { MaintenanceWindows, PlannedVersion, RolloutPolicy } from './types.js';
import { deferForMaintenance, maintenanceWindowEnd, windowAt } from './windows.js';
import { encodeHistoryEntry, type HistoryEntry } from './installation-history.js';
import { VersionLadder } from './version-ladder.js';
import { cohortOf } from './phased-release.js';

/** What the planner reads of one installation (a row of the installation store). */
export interface PlanInput {
  id: string;
  /** Version it runs now. */
  version: string;
  /** Daily update check, ms after 00:00 UTC. */
  checkOffsetMs: number;
  maintenance: MaintenanceWindows | null;
  /** Highest version its admins approved, or null. */
  approvedUpTo: string | null;
}

/**
 * One installation's step in the plan of a version:
 * - `upgrade` at `at` (the bucket time; automatic version, or a manual one it already approved);
 *   `dueAt` is the check (Connect) or spread slot (Forge) time, `exactAt` after maintenance deferral;
 * - `notify` at `at`: a manual version shows "update available" at its next check and its
 *   admins are notified; it does not upgrade;
 * - `skip`: already on this version or newer (`up-to-date`), held back by an unapproved
 *   manual version in between (`blocked`; its approval will take it to the newest version), or
 *   outside the cohort slice a phased release plans now (`phased`, rollout/phased-release.ts).
 */
export type InstallationStep =
  | { kind: 'upgrade'; at: number; exactAt: number; dueAt: number }
  | { kind: 'notify'; at: number }
  | { kind: 'skip'; reason: 'up-to-date' | 'blocked' | 'phased' };

/**
 * The cohort slice a phased release plans (rollout/phased-release.ts): installations of `appId`
 * whose cohort is in [`from`, `to`) percent; the others are skipped as `phased`.
 */
export interface CohortSlice {
  appId: string;
  from: number;
  to: number;
}

/** One bucket of the stream: these installations get `kind` at `at` (epoch ms). */
export interface PlanBucket {
  kind: 'upgrade' | 'notify';
  at: number;
  ids: string[];
}

/** Counts and delays of a plan. Delays are ms from publication to the (bucketed) upgrade. */
export interface PlanSummary {
  total: number;
  upgrades: number;
  notifies: number;
  upToDate: number;
  blocked: number;
  /** Distinct bucket times. */
  buckets: number;
  delayP50Ms: number;
  delayP99Ms: number;
  delayMaxMs: number;
  /** Latest upgrade time, epoch ms, or null when none. */
  lastUpgradeAt: number | null;
  /**
   * Upgrades moved later by a maintenance window (`exactAt` after `dueAt`). Optional: summaries
   * stored before it was counted lack it (read as 0).
   */
  deferred?: number;
  /** Installations a phased release holds for a later phase (absent: none, or an unphased plan). */
  held?: number;
}

/** 32-bit FNV-1a: a stable, well-spread hash for per-installation offsets. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The first daily check at or after `t` for a check at `checkOffsetMs` after 00:00 UTC, every
 * `intervalMs` [seed 003: "next update check, every 24 h, at a stable per-installation time"].
 * @returns epoch ms in [t, t + intervalMs).
 */
export function nextCheckAt(checkOffsetMs: number, t: number, intervalMs: number): number {
  const phase = (((t - checkOffsetMs) % intervalMs) + intervalMs) % intervalMs;
  return phase === 0 ? t : t + (intervalMs - phase);
}

/**
 * The exact time an automatic version reaches one installation, before bucketing:
 * Connect: its next daily check after publication; Forge: publication + a stable offset in
 * [0, forgeSpreadMs). Either way a time inside a maintenance window moves to the window's end,
 * never more than `maintenanceCapMs` [seed 003].
 */
export function automaticUpgradeAt(
  v: Pick<PlannedVersion, 'kind' | 'version' | 'publishedAt'>,
  inst: Pick<PlanInput, 'id' | 'checkOffsetMs' | 'maintenance'>,
  policy: RolloutPolicy,
): { at: number; due: number } {
  const due =
    v.kind === 'connect'
      ? nextCheckAt(inst.checkOffsetMs, v.publishedAt, policy.checkIntervalMs)
      : v.publishedAt + Math.floor((hash32(`${inst.id}|${v.version}`) / 0x1_0000_0000) * policy.forgeSpreadMs);
  return { due, at: deferForMaintenance(inst.maintenance, due, policy.maintenanceCapMs) };
}

/**
 * Aligns an exact upgrade time `t` (deferred from `due`) to the bucket grid anchored at
 * `publishedAt`: the bucket start when that is outside every window (never earlier than
 * publication), else the next bucket start when it is outside and within the cap, else `t`
 * itself. So bucketing never moves an upgrade into a maintenance window nor past the 4 h cap.
 */
export function bucketTime(
  t: number,
  due: number,
  publishedAt: number,
  bucketMs: number,
  windows: MaintenanceWindows | null,
  capMs: number,
): number {
  const floor = publishedAt + Math.floor((t - publishedAt) / bucketMs) * bucketMs;
  if (floor === t || !windows) return floor;
  const capped = t === due + capMs;
  if (capped || maintenanceWindowEnd(windows, floor) === null) return floor;
  const ceil = floor + bucketMs;
  if (ceil <= due + capMs && maintenanceWindowEnd(windows, ceil) === null) return ceil;
  return t;
}

/** Everything the planner needs about the version being planned. */
export class PlanContext {
  readonly ladder: VersionLadder;
  readonly targetRank: number;
  /** Ranks of manual versions older than the target (they can block it). */
  private readonly manualBefore: number[];
  readonly bucketMs: number;
  /** With a `slice`: installations seen whose cohort is below `slice.to` (the phase's cohort size). */
  cohortMembers = 0;

  /**
   * @param version the version to plan (must be in `versions`, or it is added); a phase of a
   *   phased release passes its start as `publishedAt` (each installation's window counts from it)
   * @param versions every version of the app (any order)
   * @param slice a phased release's cohort slice: only its installations get a step, the others
   *   are skipped as `phased`; absent for an unphased plan
   */
  constructor(
    readonly version: PlannedVersion,
    versions: readonly PlannedVersion[],
    readonly policy: RolloutPolicy,
    readonly slice?: CohortSlice,
  ) {
    const all = versions.some((v) => v.version === version.version) ? versions : [...versions, version];
    this.ladder = new VersionLadder(all);
    this.targetRank = this.ladder.rank(version.version);
    this.manualBefore = [];
    for (let i = 0; i < this.targetRank; i++) if (this.ladder.get(i)!.approval === 'manual') this.manualBefore.push(i);
    this.bucketMs = version.kind === 'connect' ? policy.connectBucketMs : policy.forgeBucketMs;
  }

  /**
   * The bucket time (epoch ms) at which every installation without maintenance windows upgrades
   * (without an approval of its own, or on a version an approval does not change:
   * `approvalSensitiveVersions`), when that time is one and the same for all of them,
   * else null: a Forge version, automatic, planned whole (no phased release's cohort slice), whose
   * spread fits in one bucket (`forgeSpreadMs` ≤ `forgeBucketMs`: every spread slot then falls in
   * the bucket that starts at the publication, see `bucketTime`). Such a plan needs nothing of an
   * installation but its version (`step` with no windows and no approval), so it can be planned
   * without reading the installations (app/rollout/plan-version-rollout.ts).
   */
  sharedUpgradeAt(): number | null {
    const v = this.version;
    if (v.kind !== 'forge' || v.approval !== 'automatic' || this.slice) return null;
    return this.policy.forgeSpreadMs <= this.bucketMs ? v.publishedAt : null;
  }

  /**
   * The versions of the ladder whose step an installation's approval can change: older than the
   * planned one with a manual version between (an approval up to it lets the installation pass;
   * otherwise it is `blocked`). For any other version the step is the same whatever the
   * installation approved (`step`).
   */
  approvalSensitiveVersions(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.targetRank; i++)
      if (this.manualBefore.some((m) => m > i)) out.push(this.ladder.get(i)!.version);
    return out;
  }

  /**
   * The step of an installation on `version` without maintenance windows nor an approval of its
   * own, in a plan whose `sharedUpgradeAt` is not null (its id then changes nothing but the exact
   * time inside the shared bucket); also the step of one with an approval when `version` is not
   * one of `approvalSensitiveVersions`.
   */
  versionStep(version: string): InstallationStep {
    return this.step({ id: '', version, checkOffsetMs: 0, maintenance: null, approvedUpTo: null });
  }

  /** One installation's step (see `InstallationStep`). */
  step(inst: PlanInput): InstallationStep {
    const v = this.version;
    const from = this.ladder.rank(inst.version);
    if (this.slice) {
      const c = cohortOf(this.slice.appId, inst.id);
      if (c < this.slice.to) this.cohortMembers++;
      if (!(Number.isNaN(from) || from >= this.targetRank) && (c < this.slice.from || c >= this.slice.to))
        return { kind: 'skip', reason: 'phased' };
    }
    if (Number.isNaN(from) || from >= this.targetRank) return { kind: 'skip', reason: 'up-to-date' };
    const approved = inst.approvedUpTo === null ? -1 : this.ladder.rank(inst.approvedUpTo);
    if (v.approval === 'manual' && approved < this.targetRank) {
      const at = nextCheckAt(inst.checkOffsetMs, v.publishedAt, this.policy.checkIntervalMs);
      return { kind: 'notify', at: v.publishedAt + Math.floor((at - v.publishedAt) / this.bucketMs) * this.bucketMs };
    }
    for (const m of this.manualBefore) if (m > from && m > approved) return { kind: 'skip', reason: 'blocked' };
    const { at, due } = automaticUpgradeAt(v, inst, this.policy);
    return {
      kind: 'upgrade',
      exactAt: at,
      dueAt: due,
      at: bucketTime(at, due, v.publishedAt, this.bucketMs, inst.maintenance, this.policy.maintenanceCapMs),
    };
  }
}

const HIST_BINS = 3 * 24 * 3600; // 1 s bins up to 3 days, then one overflow bin

/** Accumulates a `PlanSummary` over a stream of steps (constant memory: a 1 s delay histogram). */
export class PlanSummaryBuilder {
  private readonly hist = new Uint32Array(HIST_BINS + 1);
  private readonly times = new Set<number>();
  readonly counts = { total: 0, upgrades: 0, notifies: 0, upToDate: 0, blocked: 0, deferred: 0, held: 0 };
  private max = 0;
  private last: number | null = null;

  constructor(private readonly publishedAt: number) {}

  /** Adds `count` installations (default one) that each get `step`. */
  add(step: InstallationStep, count = 1): void {
    if (count <= 0) return;
    this.counts.total += count;
    if (step.kind === 'skip') {
      if (step.reason === 'blocked') this.counts.blocked += count;
      else if (step.reason === 'phased') this.counts.held += count;
      else this.counts.upToDate += count;
      return;
    }
    this.times.add(step.at * 2 + (step.kind === 'notify' ? 1 : 0));
    if (step.kind === 'notify') {
      this.counts.notifies += count;
      return;
    }
    this.counts.upgrades += count;
    if (step.exactAt > step.dueAt) this.counts.deferred += count;
    const d = Math.max(0, step.at - this.publishedAt);
    this.hist[Math.min(HIST_BINS, Math.floor(d / 1000))]! += count;
    if (d > this.max) this.max = d;
    if (this.last === null || step.at > this.last) this.last = step.at;
  }

  private percentile(p: number): number {
    const n = this.counts.upgrades;
    if (n === 0) return 0;
    const rank = Math.ceil(p * n);
    let seen = 0;
    for (let i = 0; i <= HIST_BINS; i++) {
      seen += this.hist[i]!;
      if (seen >= rank) return Math.min(this.max, (i + 1) * 1000);
    }
    return this.max;
  }

  summary(): PlanSummary {
    const { held, ...counts } = this.counts;
    return {
      ...counts,
      ...(held > 0 ? { held } : {}),
      buckets: this.times.size,
      delayP50Ms: this.percentile(0.5),
      delayP99Ms: this.percentile(0.99),
      delayMaxMs: this.max,
      lastUpgradeAt: this.last,
    };
  }
}

/**
 * The `deferred` history entry of an upgrade step a maintenance window moved later (DESIGN.md
 * "Rollout rules": each deferral is kept in the installation's history), or null when the step
 * is not a deferred upgrade: due at `dueAt`, it runs at its bucket time `at`, held by the window
 * that contained `dueAt`. Pure.
 */
export function deferralEntry(
  version: string,
  step: InstallationStep,
  windows: MaintenanceWindows | null,
): Extract<HistoryEntry, { kind: 'deferred' }> | null {
  if (step.kind !== 'upgrade' || step.exactAt <= step.dueAt) return null;
  const window = windowAt(windows, step.dueAt);
  return window ? { at: step.dueAt, kind: 'deferred', version, until: step.at, window } : null;
}

/**
 * Plans one chunk of installations: groups them into buckets (one per kind and time) and feeds
 * `summary`. Memory is proportional to the chunk. With `deferrals`, each upgrade a maintenance
 * window defers adds its encoded `deferred` history entry under its installation id.
 */
export function planChunk(
  ctx: PlanContext,
  chunk: Iterable<PlanInput>,
  summary?: PlanSummaryBuilder,
  deferrals?: Map<string, string>,
): PlanBucket[] {
  const groups = new Map<number, PlanBucket>();
  for (const inst of chunk) {
    const step = ctx.step(inst);
    summary?.add(step);
    if (step.kind === 'skip') continue;
    if (deferrals && step.kind === 'upgrade' && step.exactAt > step.dueAt) {
      const e = deferralEntry(ctx.version.version, step, inst.maintenance);
      if (e) deferrals.set(inst.id, encodeHistoryEntry(e));
    }
    const key = step.at * 2 + (step.kind === 'notify' ? 1 : 0);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { kind: step.kind, at: step.at, ids: [] }));
    g.ids.push(inst.id);
  }
  return [...groups.values()].sort((a, b) => a.at - b.at);
}

/**
 * The plan of a version as a stream: for each chunk of installations (e.g. 5,000 read from the
 * store), its buckets. Call `summary.summary()` after the stream ends for p50 / p99 / max.
 */
export async function* planRollout(
  ctx: PlanContext,
  chunks: AsyncIterable<Iterable<PlanInput>> | Iterable<Iterable<PlanInput>>,
  summary: PlanSummaryBuilder = new PlanSummaryBuilder(ctx.version.publishedAt),
): AsyncGenerator<PlanBucket> {
  for await (const chunk of chunks) yield* planChunk(ctx, chunk, summary);
}
