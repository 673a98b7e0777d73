/**
 * Planning the move of a Connect app's installations to its Forge successor (DESIGN.md "Connect
 * to Forge adoption": when the Forge version asks for nothing beyond the *installed* Connect
 * descriptor, the move is automatic and "rolled out progressively over up to 120 hours";
 * otherwise the installation shows "update available" and waits for its admins' approval;
 * "Rollout rules": a maintenance window defers an upgrade, at most 4 h). Pure: times are
 * parameters, the verdict per Connect version is the caller's (src/versioning/adoption.ts).
 *
 * Each eligible installation gets a stable slot in `[publishedAt, publishedAt + window - cap)`
 * (a hash of its id and the Forge version), deferred by its maintenance windows (≤ cap) and
 * aligned to the bucket grid, so every move happens inside the window even when deferred.
 *
 * Late installations ("Rollout rules": an installation registered after a plan read the list is
 * planned by the same rules, its window measured from when it became known; "impossible to make
 * lose an update"): a Connect installation registered at `knownAt`, after the adoption was
 * planned, gets the same verdict and a slot in what remains of the window, `[knownAt, publishedAt +
 * window - cap)`, deferred (≤ cap) and bucketed, never before `knownAt`; when nothing remains (it
 * registered at the end of the window or after) it is due at `knownAt`. A late one that is not
 * eligible is notified at `knownAt`. With `knownAt ≤ publishedAt` both are the plan's own steps.
 */
import type { MaintenanceWindows, RolloutPolicy } from './types.js';
import { deferForMaintenance } from './windows.js';
import { hash32 } from './plan-rollout.js';
import { lateBucketTime } from './plan-late.js';

/** What the adoption planner reads of one Connect installation. */
export interface AdoptionInput {
  id: string;
  /** The Connect version it runs. */
  connectVersion: string;
  maintenance: MaintenanceWindows | null;
}

/**
 * One installation's step: `move` at `at` (bucket time, epoch ms; `dueAt` its slot before
 * maintenance deferral), or `notify` at `at` (publication: "update available", wait for approval).
 */
export type AdoptionStep = { kind: 'move'; at: number; dueAt: number } | { kind: 'notify'; at: number };

/** One bucket of an adoption plan: these installations get `kind` at `at` (epoch ms). */
export interface AdoptionBucket {
  kind: 'move' | 'notify';
  at: number;
  ids: string[];
}

/** The Forge version adopting the Connect app: its version and publication time (epoch ms). */
export interface AdoptingVersion {
  version: string;
  publishedAt: number;
}

/**
 * When an eligible installation moves: its slot, spread over the window less the maintenance
 * cap (so a deferral never pushes it past the window), deferred and bucketed. A late one
 * (`knownAt` after publication) is spread over what remains of that span from `knownAt`, and due
 * at `knownAt` when nothing remains.
 * @param knownAt when the installation became known (epoch ms); the plan passes nothing (publication)
 * @returns epoch ms; `max(publishedAt, knownAt) ≤ at ≤ dueAt + maintenanceCapMs`, and `< publishedAt +
 *   adoptionWindowMs` when the installation was known before the window's last `maintenanceCapMs`
 *   (else every move is due at once, deferred at most the cap).
 */
export function adoptionMoveAt(
  inst: Pick<AdoptionInput, 'id' | 'maintenance'>,
  forge: AdoptingVersion,
  policy: Pick<RolloutPolicy, 'adoptionWindowMs' | 'adoptionBucketMs' | 'maintenanceCapMs'>,
  knownAt: number = forge.publishedAt,
): { at: number; dueAt: number } {
  const start = Math.max(forge.publishedAt, knownAt);
  const spread = Math.max(0, forge.publishedAt + policy.adoptionWindowMs - policy.maintenanceCapMs - start);
  const dueAt = start + Math.floor((hash32(`${inst.id}|${forge.version}|adopt`) / 0x1_0000_0000) * spread);
  const exact = deferForMaintenance(inst.maintenance, dueAt, policy.maintenanceCapMs);
  // The plan's grid (anchored at publication); for a late one never before it became known.
  const at = lateBucketTime(
    exact,
    dueAt,
    start,
    forge.publishedAt,
    policy.adoptionBucketMs,
    inst.maintenance,
    policy.maintenanceCapMs,
  );
  return { at, dueAt };
}

/**
 * The step of one installation, given whether its installed Connect version may move without
 * approval (`eligible`: the verdict's approval is `automatic`). `knownAt`: for a late
 * installation, when it was registered (see `adoptionMoveAt`; its notice is then at `knownAt`).
 */
export function planAdoptionStep(
  inst: AdoptionInput,
  eligible: boolean,
  forge: AdoptingVersion,
  policy: Pick<RolloutPolicy, 'adoptionWindowMs' | 'adoptionBucketMs' | 'maintenanceCapMs'>,
  knownAt: number = forge.publishedAt,
): AdoptionStep {
  if (!eligible) return { kind: 'notify', at: Math.max(forge.publishedAt, knownAt) };
  return { kind: 'move', ...adoptionMoveAt(inst, forge, policy, knownAt) };
}

/**
 * Plans a chunk of installations into buckets (ordered by time, then kind). `eligible` answers
 * per Connect version (the caller caches verdicts: thousands of installations share a few
 * versions); a version it cannot judge should answer false (default-deny: approval).
 */
export function planAdoptionChunk(
  inputs: Iterable<AdoptionInput>,
  eligible: (connectVersion: string) => boolean,
  forge: AdoptingVersion,
  policy: Pick<RolloutPolicy, 'adoptionWindowMs' | 'adoptionBucketMs' | 'maintenanceCapMs'>,
): AdoptionBucket[] {
  const byKey = new Map<string, AdoptionBucket>();
  for (const inst of inputs) {
    const s = planAdoptionStep(inst, eligible(inst.connectVersion), forge, policy);
    const key = `${s.kind}:${s.at}`;
    let b = byKey.get(key);
    if (!b) byKey.set(key, (b = { kind: s.kind, at: s.at, ids: [] }));
    b.ids.push(inst.id);
  }
  return [...byKey.values()].sort((a, b) => a.at - b.at || a.kind.localeCompare(b.kind));
}
