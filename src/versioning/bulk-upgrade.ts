/**
 * Bulk major-version upgrade eligibility (`forge version bulk-upgrade`; DESIGN.md, "Distribution
 * rules", seeds 000/001): installations on an older major version move to a newer one without
 * admin approval when the upgrade is eligible. Pure.
 */
import semver from 'semver';
import { canonicalJson } from './canonical.js';
import { egressEntries, forgeScopes } from './forge-permissions.js';
import type { ParsedDescriptor } from './types.js';

/** One side of a bulk upgrade: a Forge manifest, its version and its environment. */
export interface BulkUpgradeSide {
  manifest: ParsedDescriptor;
  /** e.g. `2.3.0` */
  version: string;
  /** e.g. `production` */
  environment: string;
}

/** Source and target of a bulk upgrade. */
export interface BulkUpgradeInput {
  source: BulkUpgradeSide;
  target: BulkUpgradeSide;
}

/** Eligible, or the list of every reason it is not (each `{ code, detail }`). */
export type BulkUpgradeVerdict =
  | { eligible: true }
  | {
      eligible: false;
      reasons: Array<{ code: 'environment' | 'version' | 'kind' | 'scopes' | 'egress' | 'licensing'; detail: string }>;
    };

/**
 * Decides whether `source` installations may be bulk-upgraded to `target`: same environment;
 * target major version greater than the source's; no scope or egress entry in the target that
 * the source lacks (removing scopes, and adding the sql module, are eligible); `app.licensing`
 * unchanged. Every failing condition is listed.
 */
export function checkBulkUpgrade(input: BulkUpgradeInput): BulkUpgradeVerdict {
  const { source, target } = input;
  const reasons: Array<{
    code: 'environment' | 'version' | 'kind' | 'scopes' | 'egress' | 'licensing';
    detail: string;
  }> = [];
  if (source.manifest.kind !== 'forge' || target.manifest.kind !== 'forge') {
    reasons.push({ code: 'kind', detail: 'bulk upgrades apply to Forge apps only' });
  }
  if (source.environment !== target.environment) {
    reasons.push({
      code: 'environment',
      detail: `source is in ${source.environment}, target in ${target.environment}: both must be in the same environment`,
    });
  }
  const sv = semver.parse(source.version);
  const tv = semver.parse(target.version);
  if (!sv || !tv)
    reasons.push({
      code: 'version',
      detail: `versions must be major.minor.patch (got ${source.version} -> ${target.version})`,
    });
  else if (tv.major <= sv.major)
    reasons.push({
      code: 'version',
      detail: `target major version ${tv.major} is not greater than source major version ${sv.major}`,
    });
  const s = source.manifest.normalized as Record<string, unknown>;
  const t = target.manifest.normalized as Record<string, unknown>;
  const held = forgeScopes(s);
  const newScopes = [...forgeScopes(t)].filter((x) => !held.has(x)).sort();
  if (newScopes.length) reasons.push({ code: 'scopes', detail: `target adds scopes: ${newScopes.join(', ')}` });
  const heldEgress = egressEntries(s);
  const newEgress = [...egressEntries(t)].filter((x) => !heldEgress.has(x)).sort();
  if (newEgress.length)
    reasons.push({
      code: 'egress',
      detail: `target adds egress: ${newEgress.map((e) => e.replace('\t', ' ')).join(', ')}`,
    });
  const lic = (d: Record<string, unknown>) =>
    canonicalJson((d.app as { licensing?: unknown } | null | undefined)?.licensing ?? null);
  if (lic(s) !== lic(t)) reasons.push({ code: 'licensing', detail: `app.licensing changed: ${lic(s)} -> ${lic(t)}` });
  return reasons.length ? { eligible: false, reasons } : { eligible: true };
}
