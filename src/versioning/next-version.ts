/**
 * Version numbers (DESIGN.md, "Versioning rules"): Connect `major.minor.micro` from 1.0.0; Forge
 * `major.minor.0` from 2.0.0 (Atlassian community answer "How does Forge app versioning work").
 */
import semver from 'semver';
import { AppError, ErrorCode } from '../lib/errors.js';
import type { AppKind, Bump } from './types.js';

/** The first version of an app: `1.0.0` (Connect) or `2.0.0` (Forge). */
export function initialVersion(kind: AppKind): string {
  return kind === 'connect' ? '1.0.0' : '2.0.0';
}

/**
 * The version after `previous` for a change of size `bump`.
 * - `previous` null: the initial version, whatever the bump.
 * - bump `none`: `previous` unchanged.
 * - Connect: major → (M+1).0.0, minor → M.(m+1).0, micro → M.m.(p+1).
 * - Forge: major → (M+1).0.0; minor or micro → M.(m+1).0 (the patch is always 0).
 *
 * @throws AppError `input-invalid` when `previous` is not a semver version.
 */
export function nextVersion(kind: AppKind, previous: string | null, bump: Bump): string {
  if (previous === null) return initialVersion(kind);
  const v = semver.parse(previous);
  if (!v)
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `not a version: ${JSON.stringify(previous)} (expected major.minor.micro)`,
    );
  if (bump === 'none') return v.version;
  if (bump === 'major') return `${v.major + 1}.0.0`;
  if (kind === 'forge' || bump === 'minor') return `${v.major}.${v.minor + 1}.0`;
  return `${v.major}.${v.minor}.${v.patch + 1}`;
}
