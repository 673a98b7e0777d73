/**
 * A rollout simulation on a virtual clock, with no Redis (`mpu replay SOURCE --installations N`):
 * for each version of a history, when 50 %, 99 % and 100 % of a population had it (or a newer
 * version), by the planner's own rules (DESIGN.md "Rollout rules" [seed 003]). The admins of a
 * share of the installations (`approveShare`, a stable choice per installation and version; none
 * by default) approve each manual version; approving a version approves every version up to it
 * (so a later approval also covers an earlier version left unapproved), and the installation is
 * upgraded at the approval. A manual version no approval covers holds every later version back
 * from that installation.
 */
import type { AppKind, Approval, Bump } from '../versioning/types.js';
import { automaticUpgradeAt, hash32, nextCheckAt } from './plan-rollout.js';
import { deferForMaintenance } from './windows.js';
import { resolveRolloutPolicy } from './policy.js';
import type { Installation, RolloutPolicy } from './types.js';

/** One version of the replayed history, oldest first. */
export interface SimulatedVersionInput {
  version: string;
  bump: Bump | 'initial';
  approval: Approval;
  /** Publication time, epoch ms. */
  publishedAt: number;
}

/** Outcome for one version. Times are epoch ms; delays are ms after `publishedAt`. */
export interface SimulatedVersionResult {
  version: string;
  approval: Approval;
  publishedAt: number;
  /** Installations that had this version or a newer one by the end. */
  reached: number;
  population: number;
  /** When 50 %, 99 %, 100 % had it; null when that share never did. */
  p50At: number | null;
  p99At: number | null;
  p100At: number | null;
  /** `p100At - publishedAt`, or null. */
  fullDelayMs: number | null;
  /**
   * The manual version (itself, or an older one) whose missing approvals hold installations
   * back, or null when every installation was reached.
   */
  waitingOn: string | null;
  /** Manual versions: installations whose admins approved it (0 without `approveShare`). */
  approved?: number;
}

/** Options of `simulateRollout`'s admins. */
export interface SimulationOptions {
  /** Share (0 … 1) of installations whose admins approve each manual version. @defaultValue 0 */
  approveShare?: number;
  /**
   * An approving admin approves within this long of the notice (the installation's next check
   * after publication): a stable per-installation delay in [0, this), ms. @defaultValue 48 h
   */
  approvalDelayMs?: number;
}

/**
 * Simulates the rollout of `versions` (oldest first; the first, or any `initial`, is what every
 * installation starts on) to `population`, as the upgrade batches run it: a version's batch
 * reaches an installation at its promised time (`automaticUpgradeAt`: next daily check or Forge
 * slot, deferred by maintenance ≤ 4 h) and takes it to the newest version published by then that
 * no unapproved manual version holds back; an approval upgrades it at once (deferred by its
 * window). A version planned while a manual one below it is unapproved has no batch for it.
 * @param kind `connect` (next daily check, windows ≤ 4 h) or `forge` (within the Forge spread)
 * @param policy overrides of `DEFAULT_ROLLOUT_POLICY`
 * @param opts who approves manual versions (`SimulationOptions`)
 * @throws AppError `policy-invalid` for a bad policy
 */
export function simulateRollout(
  kind: AppKind,
  versions: readonly SimulatedVersionInput[],
  population: Iterable<Pick<Installation, 'id' | 'checkOffsetMs' | 'maintenance'>>,
  policy: Partial<RolloutPolicy> = {},
  opts: SimulationOptions = {},
): SimulatedVersionResult[] {
  const pol = resolveRolloutPolicy(policy);
  const share = Math.min(1, Math.max(0, opts.approveShare ?? 0));
  const delayMs = opts.approvalDelayMs ?? 48 * 3_600_000;
  const insts = [...population];
  const n = insts.length;
  const m = versions.length;
  const manual = versions.map((v, i) => i > 0 && v.bump !== 'initial' && v.approval === 'manual');
  const isStart = versions.map((v, i) => i === 0 || v.bump === 'initial');
  // reach[i][k]: when installation k had version i or a newer one (Infinity: never).
  const reach = versions.map(() => new Float64Array(n).fill(Infinity));
  const approvedCount = new Array<number>(m).fill(0);
  const approvedAt = new Float64Array(m); // per installation, reused: approval time of manual versions (Infinity: never)
  const events: { at: number; upTo: number }[] = [];
  for (let k = 0; k < n; k++) {
    const inst = insts[k]!;
    for (let i = 0; i < m; i++) {
      approvedAt[i] = Infinity;
      if (!manual[i]) continue;
      const v = versions[i]!;
      if (hash32(`${inst.id}|${v.version}|approve`) / 0x1_0000_0000 >= share) continue;
      const notice = nextCheckAt(inst.checkOffsetMs, v.publishedAt, pol.checkIntervalMs);
      approvedAt[i] = notice + Math.floor((hash32(`${inst.id}|${v.version}|delay`) / 0x1_0000_0000) * delayMs);
      approvedCount[i]!++;
    }
    // clearAt[i]: from when no unapproved manual version holds version i back. Approving a
    // version approves every version up to it, so the newest manual version at or below i must
    // be covered by an approval of it or of a newer manual version.
    const clearAt = new Float64Array(m);
    const bestFrom = new Float64Array(m + 1).fill(Infinity);
    for (let i = m - 1; i >= 0; i--)
      bestFrom[i] = manual[i] ? Math.min(approvedAt[i]!, bestFrom[i + 1]!) : bestFrom[i + 1]!;
    let lastManual = -1;
    for (let i = 0; i < m; i++) {
      if (manual[i]) lastManual = i;
      clearAt[i] = lastManual === -1 ? -Infinity : bestFrom[lastManual]!;
    }
    events.length = 0;
    for (let i = 0; i < m; i++) {
      const v = versions[i]!;
      if (isStart[i]) {
        reach[i]![k] = v.publishedAt;
        continue;
      }
      if (manual[i]) {
        if (approvedAt[i]! < Infinity)
          events.push({ at: deferForMaintenance(inst.maintenance, approvedAt[i]!, pol.maintenanceCapMs), upTo: i });
      } else if (clearAt[i]! <= v.publishedAt) {
        events.push({
          at: automaticUpgradeAt({ kind, version: v.version, publishedAt: v.publishedAt }, inst, pol).at,
          upTo: i,
        });
      }
    }
    // An event at `at` takes it to the newest version published by then whose manual versions are approved by then.
    for (const e of events) {
      let top = -1;
      for (let i = 0; i < m && versions[i]!.publishedAt <= e.at; i++) if (clearAt[i]! <= e.at) top = i;
      for (let i = 0; i <= top; i++) if (e.at < reach[i]![k]!) reach[i]![k] = Math.max(e.at, versions[i]!.publishedAt);
    }
  }
  const at = (sorted: Float64Array, p: number): number | null => {
    if (n === 0) return null;
    const t = sorted[Math.max(0, Math.ceil(p * n) - 1)]!;
    return Number.isFinite(t) ? t : null;
  };
  return versions.map((v, i) => {
    const sorted = Float64Array.from(reach[i]!).sort();
    let reached = 0;
    for (const t of sorted) if (Number.isFinite(t)) reached++;
    const p100 = at(sorted, 1);
    let waitingOn: string | null = null;
    if (reached < n) for (let j = i; j >= 0 && waitingOn === null; j--) if (manual[j]) waitingOn = versions[j]!.version;
    return {
      version: v.version,
      approval: v.approval,
      publishedAt: v.publishedAt,
      reached,
      population: n,
      p50At: at(sorted, 0.5),
      p99At: at(sorted, 0.99),
      p100At: p100,
      fullDelayMs: p100 === null ? null : p100 - v.publishedAt,
      waitingOn,
      ...(manual[i] ? { approved: approvedCount[i]! } : {}),
    };
  });
}
