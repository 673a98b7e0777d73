/**
 * A rollout simulation on a virtual clock, with no Redis (`mpu replay SOURCE --installations N`):
 * for each version of a history, when 50 %, 99 % and 100 % of a population had it (or a newer
 * version), by the planner's own rules. No admin approves in a simulation, so a manual version
 * is never reached, nor is any version after it (DESIGN.md "Rollout rules" [seed 003]).
 */
import type { AppKind, Approval, Bump } from '../versioning/types.js';
import { automaticUpgradeAt } from './plan-rollout.js';
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
  /** The unapproved manual version that holds installations back (itself when manual), or null. */
  waitingOn: string | null;
}

/**
 * Simulates the rollout of `versions` (oldest first; the first, or any `initial`, is what every
 * installation starts on) to `population`.
 * @param kind `connect` (next daily check, windows ≤ 4 h) or `forge` (within the Forge spread)
 * @param policy overrides of `DEFAULT_ROLLOUT_POLICY`
 * @throws AppError `policy-invalid` for a bad policy
 */
export function simulateRollout(
  kind: AppKind,
  versions: readonly SimulatedVersionInput[],
  population: Iterable<Pick<Installation, 'id' | 'checkOffsetMs' | 'maintenance'>>,
  policy: Partial<RolloutPolicy> = {},
): SimulatedVersionResult[] {
  const pol = resolveRolloutPolicy(policy);
  const insts = [...population];
  const n = insts.length;
  const firstManual = versions.findIndex((v, i) => i > 0 && v.bump !== 'initial' && v.approval === 'manual');
  const reachable = firstManual === -1 ? versions.length : firstManual;
  // times[i][k]: when installation k reached version i (or newer); computed newest first so that
  // a newer version reaching an installation earlier supersedes the older one.
  const results: SimulatedVersionResult[] = [];
  let later: Float64Array | null = null;
  const perVersion: (Float64Array | null)[] = new Array(versions.length).fill(null);
  for (let i = reachable - 1; i >= 0; i--) {
    const v = versions[i]!;
    const t = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const own =
        i === 0 || v.bump === 'initial'
          ? v.publishedAt
          : automaticUpgradeAt({ kind, version: v.version, publishedAt: v.publishedAt }, insts[k]!, pol).at;
      t[k] = later ? Math.min(own, later[k]!) : own;
    }
    perVersion[i] = t;
    later = t;
  }
  const at = (sorted: Float64Array, share: number): number | null =>
    n === 0 ? null : sorted[Math.max(0, Math.ceil(share * n) - 1)]!;
  versions.forEach((v, i) => {
    const t = perVersion[i];
    if (!t) {
      results.push({
        version: v.version,
        approval: v.approval,
        publishedAt: v.publishedAt,
        reached: 0,
        population: n,
        p50At: null,
        p99At: null,
        p100At: null,
        fullDelayMs: null,
        waitingOn: versions[firstManual]!.version,
      });
      return;
    }
    const sorted = Float64Array.from(t).sort();
    const p100 = at(sorted, 1);
    results.push({
      version: v.version,
      approval: v.approval,
      publishedAt: v.publishedAt,
      reached: n,
      population: n,
      p50At: at(sorted, 0.5),
      p99At: at(sorted, 0.99),
      p100At: p100,
      fullDelayMs: p100 === null ? null : p100 - v.publishedAt,
      waitingOn: null,
    });
  });
  return results;
}
