/**
 * The planner's view of an app's stored versions (src/rollout/version-ladder.ts), read through
 * the store ports.
 */
import type { PlannedVersion } from '../../rollout/types.js';
import { VersionLadder } from '../../rollout/version-ladder.js';
import type { VersionRecord } from '../../store/types.js';
import type { RolloutContext } from '../context.js';

/** The planner's view of a stored version (publication = detection time). */
export function toPlannedVersion(r: VersionRecord): PlannedVersion {
  return {
    appId: r.appId,
    kind: r.kind,
    version: r.version,
    bump: r.bump,
    approval: r.approval,
    publishedAt: r.detectedAt,
  };
}

/**
 * The versions installations may move to, as a ladder: every stored version except those whose
 * rollout an operator paused or halted, so that an older rollout's batch (which takes an
 * installation to the newest version it may have) does not carry installations past a pause or
 * a halt. A halted manual version no longer blocks later ones. A phased release in progress
 * carries the percentage its phase reached (`VersionLadder.phases`): only the installations of
 * that cohort may take it (`decideTarget` with the installation's cohort).
 */
export async function loadLadder(
  ctx: Pick<RolloutContext, 'versions' | 'rollouts'>,
  appId: string,
): Promise<VersionLadder> {
  const records = await ctx.versions.listVersions(appId);
  const gates = await ctx.rollouts.gates(
    appId,
    records.map((r) => r.version),
  );
  let phases: Map<string, number> | undefined;
  for (let i = 0; i < records.length; i++) {
    const p = gates[i]!.percent;
    if (p !== null && p < 100) (phases ??= new Map()).set(records[i]!.version, p);
  }
  return new VersionLadder(
    records.filter((_, i) => gates[i]!.status !== 'halted' && gates[i]!.status !== 'paused').map(toPlannedVersion),
    phases,
  );
}
