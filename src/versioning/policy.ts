/**
 * The versioning rules as data (DESIGN.md, "Versioning rules": "Every rule is data in a policy
 * with these defaults, so an operator can change it"). Sources: developer.atlassian.com
 * "Upgrading and versioning cloud apps" and "Versioning in Connect vs Forge" (seed 003), and the
 * Atlassian community answer "How does Forge app versioning work".
 */
import { z } from 'zod';
import { AppError, ErrorCode } from '../lib/errors.js';
import {
  CONNECT_PRODUCTS,
  DEFAULT_PRODUCT_SCOPES,
  type ConnectProduct,
  type ProductScopes,
} from './connect-products.js';
import type { Approval, Bump } from './types.js';

/** What a rule does when it fires. `enabled: false` turns the rule off (its changes fall to `other`). */
export interface RuleOutcome {
  bump: Bump;
  approval: Approval;
  enabled: boolean;
}

/** Connect rules (DESIGN.md, Connect table). */
export interface ConnectPolicy {
  /** `apiVersion` differs (absent means 1): major, manual. */
  apiVersion: RuleOutcome;
  /** A scope not implied by the old set: minor, manual. */
  scopeIncrease: RuleOutcome;
  /** `enableLicensing` absent/false → true: minor, manual. */
  freeToPaid: RuleOutcome;
  /** `baseUrl` changed: minor, manual. */
  baseUrl: RuleOutcome;
  /** Any other change of the parsed descriptor: micro, automatic. */
  other: RuleOutcome;
  /**
   * Each product's implication chain and absent-scopes meaning (DESIGN.md, "Connect scopes differ
   * by product"; defaults `DEFAULT_PRODUCT_SCOPES`). A policy file sets them under
   * `connect: { products: { confluence: { chain: [...] } } }`; the older `scope-hierarchy` and
   * `standalone-scopes` keys set Jira's `chain` and `standalone`.
   */
  products: Record<ConnectProduct, ProductScopes>;
}

/**
 * One row of the Forge OAuth2 scope → Connect scope equivalence table (DESIGN.md, "Connect to
 * Forge adoption"): `connectScope` is a Connect scope of `product`, or `UNMAPPED` (no equivalent:
 * always an elevation); `source` is where the row was confirmed.
 */
export interface ScopeEquivalence {
  product: ConnectProduct;
  forgeScope: string;
  connectScope: string;
  source: string;
}

/** The move from a Connect app to its Forge successor (DESIGN.md, "Connect to Forge adoption"). */
export interface AdoptionPolicy {
  /** The move when the Forge version asks for nothing beyond the Connect descriptor: minor, automatic. */
  move: Omit<RuleOutcome, 'enabled'>;
  /** The move when anything is elevated (a scope, licensing, the Connect remote, an auth provider): major, manual. */
  elevation: Omit<RuleOutcome, 'enabled'>;
  /**
   * Rows beyond the shipped table (`SHIPPED_SCOPE_EQUIVALENCES`), from a policy file; a row here
   * for the same product and Forge scope replaces the shipped one.
   */
  scopeEquivalences: ScopeEquivalence[];
}

/** Forge rules (DESIGN.md, Forge table). */
export interface ForgePolicy {
  /** `permissions.scopes`: a scope added. */
  scopeAdded: RuleOutcome;
  /** `permissions.scopes`: a scope removed ("added or removed" is a change to the set). */
  scopeRemoved: RuleOutcome;
  /** `permissions.external` (egress): an entry added, or a non-list value changed. */
  egressAdded: RuleOutcome;
  /** `permissions.external` (egress): an entry removed. */
  egressRemoved: RuleOutcome;
  /** `permissions.content` (CSP) changed. */
  content: RuleOutcome;
  /** `app.licensing` changed. */
  licensing: RuleOutcome;
  /** `providers.auth`: a provider added or removed, or a client id changed. */
  authProvider: RuleOutcome;
  /** `remotes`: one added. */
  remoteAdded: RuleOutcome;
  /** `remotes`: a `baseUrl` changed. */
  remoteBaseUrl: RuleOutcome;
  /** An `sql` module added. */
  sqlModule: RuleOutcome;
  /** Anything else, code-only deploys included: minor, automatic. */
  other: RuleOutcome;
}

/** The whole policy. Frozen once built. */
export interface VersioningPolicy {
  connect: ConnectPolicy;
  forge: ForgePolicy;
  adoption: AdoptionPolicy;
}

const r = (bump: Bump, approval: Approval): RuleOutcome => ({ bump, approval, enabled: true });

/** The defaults of DESIGN.md's two tables. */
export const defaultPolicy: VersioningPolicy = deepFreeze({
  connect: {
    apiVersion: r('major', 'manual'),
    scopeIncrease: r('minor', 'manual'),
    freeToPaid: r('minor', 'manual'),
    baseUrl: r('minor', 'manual'),
    other: r('micro', 'automatic'),
    products: structuredClone(DEFAULT_PRODUCT_SCOPES) as Record<ConnectProduct, ProductScopes>,
  },
  forge: {
    scopeAdded: r('major', 'manual'),
    scopeRemoved: r('major', 'manual'),
    egressAdded: r('major', 'manual'),
    egressRemoved: r('major', 'manual'),
    content: r('major', 'manual'),
    licensing: r('major', 'manual'),
    authProvider: r('major', 'manual'),
    remoteAdded: r('major', 'manual'),
    remoteBaseUrl: r('major', 'manual'),
    sqlModule: r('major', 'manual'),
    other: r('minor', 'automatic'),
  },
  adoption: {
    move: { bump: 'minor', approval: 'automatic' },
    elevation: { bump: 'major', approval: 'manual' },
    scopeEquivalences: [],
  },
});

const Outcome = z.strictObject({
  bump: z.enum(['major', 'minor', 'micro', 'none']).optional(),
  approval: z.enum(['automatic', 'manual']).optional(),
  enabled: z.boolean().optional(),
});
const ProductScopesOverride = z.strictObject({
  chain: z.array(z.string().min(1)).optional(),
  implies: z.record(z.string(), z.array(z.string().min(1))).optional(),
  standalone: z.array(z.string().min(1)).optional(),
  absent: z.union([z.array(z.string().min(1)), z.literal('all')]).optional(),
  case: z.enum(['upper', 'lower']).optional(),
});
const AdoptionOutcome = z.strictObject({
  bump: z.enum(['major', 'minor']).optional(),
  approval: z.enum(['automatic', 'manual']).optional(),
});
const PolicyOverride = z.strictObject({
  connect: z
    .strictObject({
      apiVersion: Outcome.optional(),
      scopeIncrease: Outcome.optional(),
      freeToPaid: Outcome.optional(),
      baseUrl: Outcome.optional(),
      other: Outcome.optional(),
      scopeHierarchy: z.array(z.string().min(1)).optional(),
      standaloneScopes: z.array(z.string().min(1)).optional(),
      products: z
        .strictObject(Object.fromEntries(CONNECT_PRODUCTS.map((p) => [p, ProductScopesOverride.optional()])))
        .optional(),
    })
    .optional(),
  adoption: z
    .strictObject({
      move: AdoptionOutcome.optional(),
      elevation: AdoptionOutcome.optional(),
      scopeEquivalences: z
        .array(
          z.strictObject({
            product: z.enum(CONNECT_PRODUCTS as [ConnectProduct, ...ConnectProduct[]]),
            forgeScope: z.string().min(1),
            connectScope: z.string().min(1),
            source: z.string().min(1),
          }),
        )
        .optional(),
    })
    .optional(),
  forge: z
    .strictObject(Object.fromEntries(Object.keys(defaultPolicy.forge).map((k) => [k, Outcome.optional()])))
    .optional(),
});

/** `scopeIncrease` → `scope-increase`: the rule's name as classifications print it (`connect.scope-increase`). */
export function ruleName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** `scope-increase` → `scopeIncrease`; a camelCase key passes unchanged. */
function ruleKey(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Every rule (and list) name a policy file may set per kind, as outputs print them. */
export const POLICY_RULE_NAMES: Readonly<Record<'connect' | 'forge' | 'adoption', readonly string[]>> = Object.freeze({
  connect: Object.freeze([...Object.keys(defaultPolicy.connect), 'scopeHierarchy', 'standaloneScopes'].map(ruleName)),
  forge: Object.freeze(Object.keys(defaultPolicy.forge).map(ruleName)),
  adoption: Object.freeze(Object.keys(defaultPolicy.adoption).map(ruleName)),
});

/** The override with each kind's keys in camelCase, so a file may use the printed rule names. */
function normalizeKeys(override: unknown): unknown {
  if (typeof override !== 'object' || override === null || Array.isArray(override)) return override;
  const out: Record<string, unknown> = { ...(override as Record<string, unknown>) };
  for (const kind of ['connect', 'forge', 'adoption'] as const) {
    const rules = out[kind];
    if (typeof rules === 'object' && rules !== null && !Array.isArray(rules))
      out[kind] = Object.fromEntries(Object.entries(rules).map(([k, v]) => [ruleKey(k), v]));
  }
  return out;
}

/** One problem of a policy file, with unknown keys answered by the names that are valid there. */
function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const unknown = issue.keys.map((k) => JSON.stringify(ruleName(k))).join(', ');
    const kind = issue.path.length === 1 ? (issue.path[0] as 'connect' | 'forge' | 'adoption') : undefined;
    if (issue.path.length === 0) return `$: unknown key ${unknown}; a policy has the keys connect, forge, adoption`;
    if (kind && POLICY_RULE_NAMES[kind])
      return `${where}: unknown rule ${unknown}; the ${kind} rules are ${POLICY_RULE_NAMES[kind].join(', ')}`;
    return `${where}: unknown key ${unknown}; a rule has the keys bump, approval, enabled`;
  }
  const path =
    issue.path.length >= 2 ? [issue.path[0], ruleName(String(issue.path[1])), ...issue.path.slice(2)] : issue.path;
  return `${path.map(String).join('.') || '$'}: ${issue.message}`;
}

/**
 * Builds a policy from a partial override (the parsed JSON or YAML of a policy file), on top of
 * `base` (the defaults). Rules are named as classifications print them (`connect:` →
 * `scope-increase:`, for the rule `connect.scope-increase`); the camelCase keys of
 * `VersioningPolicy` (`scopeIncrease`) are accepted too. Forge rules may not use `micro` (Forge
 * versions are major.minor.0).
 *
 * @throws AppError `policy-invalid` listing every problem (path and message; an unknown rule's
 *   message lists the valid ones).
 */
export function parsePolicy(override: unknown, base: VersioningPolicy = defaultPolicy): VersioningPolicy {
  const parsed = PolicyOverride.safeParse(normalizeKeys(override ?? {}));
  if (!parsed.success) {
    const problems = parsed.error.issues.map(describeIssue);
    throw new AppError(ErrorCode.POLICY_INVALID, `invalid versioning policy: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  const o = parsed.data as Partial<Record<'connect' | 'forge' | 'adoption', Record<string, unknown>>>;
  const merged = structuredClone(base) as unknown as Record<'connect' | 'forge' | 'adoption', Record<string, unknown>>;
  for (const kind of ['connect', 'forge', 'adoption'] as const) {
    for (const [k, v] of Object.entries(o[kind] ?? {})) {
      if (v === undefined || (kind === 'connect' && ['products', 'scopeHierarchy', 'standaloneScopes'].includes(k)))
        continue;
      merged[kind][k] = Array.isArray(v) ? [...v] : { ...(merged[kind][k] as object), ...(v as object) };
    }
  }
  const policy = merged as unknown as VersioningPolicy;
  const c = o.connect as
    | {
        products?: Partial<Record<ConnectProduct, Partial<ProductScopes>>>;
        scopeHierarchy?: string[];
        standaloneScopes?: string[];
      }
    | undefined;
  // The older keys name Jira's chain (the only one there was).
  if (c?.scopeHierarchy) policy.connect.products.jira.chain = [...c.scopeHierarchy];
  if (c?.standaloneScopes) policy.connect.products.jira.standalone = [...c.standaloneScopes];
  for (const p of CONNECT_PRODUCTS) {
    const over = c?.products?.[p];
    if (over) policy.connect.products[p] = { ...policy.connect.products[p], ...structuredClone(over) };
  }
  const problems = Object.entries(policy.forge)
    .filter(([, v]) => v.bump === 'micro')
    .map(([k]) => `forge.${ruleName(k)}.bump: Forge versions have no micro part (major.minor.0)`);
  if (problems.length) {
    throw new AppError(ErrorCode.POLICY_INVALID, `invalid versioning policy: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  return deepFreeze(policy);
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
