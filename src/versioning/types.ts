/**
 * Shapes of the versioning engine (DESIGN.md, "Versioning rules"). Pure data: no I/O here.
 */

import type { ProductChoice } from './connect-products.js';

/** Connect apps ship an `atlassian-connect.json` descriptor; Forge apps a `manifest.yml`. */
export type AppKind = 'connect' | 'forge';

/** How far a change moves the version. Forge versions never use `micro` (they are major.minor.0). */
export type Bump = 'major' | 'minor' | 'micro' | 'none';

/** Whether installations take the version by themselves or wait for an admin. */
export type Approval = 'automatic' | 'manual';

/** One structural difference between two descriptors, at a JSON path such as `modules.jiraIssueGlances[key=glance]`. */
export interface DescriptorChange {
  path: string;
  kind: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
}

/** Why a classification came out as it did: the policy rule's id, the path that triggered it, and words for a vendor. */
export interface Reason {
  /** Policy rule id, e.g. `connect.scope-increase`, `forge.egress`, `connect.other`. */
  rule: string;
  bump: Bump;
  approval: Approval;
  /** JSON path of the triggering value, e.g. `scopes`, `permissions.external.fetch.backend`. */
  path: string;
  /** Human words, e.g. `scope added: WRITE`. */
  detail: string;
}

/** Something a vendor should know that does not change the bump (e.g. the app key switched registrations). */
export interface ChangeWarning {
  code: 'app-key-changed' | 'api-version-spelling';
  path: string;
  detail: string;
}

/** The verdict on one old → new change. */
export interface Classification {
  kind: AppKind;
  bump: Bump;
  approval: Approval;
  reasons: Reason[];
  warnings: ChangeWarning[];
  /** The structural diff the verdict was drawn from (canonical form). */
  changes: DescriptorChange[];
  /** Connect: the product whose scope rules were applied, and where it came from. */
  product?: ProductChoice;
}

/** A descriptor or manifest after parsing and validation. */
export interface ParsedDescriptor {
  kind: AppKind;
  /** Where the text came from (file path, URL, `deploy:<id>`), used in error messages. */
  source: string;
  /** The parsed document (JSON object), as written. */
  document: Record<string, unknown>;
  /** Connect `key` or Forge `app.id`, when present. */
  appKey: string | undefined;
  /** The document in canonical form (keys sorted, sets sorted: see canonical.ts), computed once. */
  normalized: unknown;
  /** Canonical JSON: keys sorted, no whitespace. Whitespace and key order are no change. */
  canonical: string;
  /** `sha256:` + hex sha256 of `canonical`. */
  hash: string;
}
