/**
 * Records shared between the daemon (detection, versioning) and the rollout. The Redis
 * implementations live beside this file; the key layout is in keys.ts.
 */
import type { AppKind, Approval, Bump, Reason, ChangeWarning } from '../versioning/types.js';

/** One published version of an app (DESIGN.md, "Versioning rules"). Times are epoch ms. */
export interface VersionRecord {
  appId: string;
  kind: AppKind;
  /** semver string, e.g. `1.0.3` (Connect) or `2.1.0` (Forge). */
  version: string;
  /** `initial` for the app's first version. */
  bump: Bump | 'initial';
  approval: Approval;
  reasons: Reason[];
  warnings: ChangeWarning[];
  /** `sha256:…` of the canonical descriptor, stored content-addressed. */
  descriptorHash: string;
  source: 'poll' | 'deploy' | 'cli';
  /** When the change was detected (= published to installations), epoch ms. */
  detectedAt: number;
  /** Forge deployment id, for deploy-sourced versions. */
  deploymentId?: string;
}

/** Read access to versions, as the rollout needs it. */
export interface VersionReader {
  /** @returns the record, or null when the app or version is unknown. */
  getVersion(appId: string, version: string): Promise<VersionRecord | null>;
  /** All versions of an app, oldest first. */
  listVersions(appId: string): Promise<VersionRecord[]>;
}
