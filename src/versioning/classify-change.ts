/**
 * Classification of one old → new change by the rules of DESIGN.md, "Versioning rules" (Connect
 * and Forge tables), read from a `VersioningPolicy`. Pure: no I/O, no clock.
 *
 * Each rule is a small function that reads only its slice of the descriptors and returns the
 * reasons it found and the paths those reasons explain. Whatever change no firing rule explains
 * falls to the `other` rule. The bump is the largest bump of any reason; the approval is manual
 * when any reason is manual.
 */
import { canonOf, type Json } from './canonical.js';
import { diffDocuments } from './diff.js';
import {
  chooseProduct,
  heldScopes,
  isImpliedBy,
  PRODUCT_NAME,
  type ConnectProduct,
  type ProductChoice,
  type ProductScopes,
} from './connect-products.js';
import { egressEntries, forgeScopes } from './forge-permissions.js';
import {
  defaultPolicy,
  type ConnectPolicy,
  type ForgePolicy,
  type RuleOutcome,
  type VersioningPolicy,
} from './policy.js';
import type {
  Approval,
  Bump,
  ChangeWarning,
  Classification,
  DescriptorChange,
  ParsedDescriptor,
  Reason,
} from './types.js';

const BUMP_RANK: Record<Bump, number> = { none: 0, micro: 1, minor: 2, major: 3 };

/** The larger of two bumps (major > minor > micro > none). */
export function maxBump(a: Bump, b: Bump): Bump {
  return BUMP_RANK[a] >= BUMP_RANK[b] ? a : b;
}

interface RuleHit {
  reasons: Reason[];
  /** Path prefixes whose changes these reasons account for. */
  explains: string[];
}
const NO_HIT: RuleHit = { reasons: [], explains: [] };

type Doc = Record<string, unknown>;

function reason(rule: string, outcome: RuleOutcome, path: string, detail: string): Reason {
  return { rule, bump: outcome.bump, approval: outcome.approval, path, detail };
}

const show = (v: unknown): string => (v === undefined ? 'absent' : JSON.stringify(v));
const get = (o: unknown, k: string): unknown =>
  typeof o === 'object' && o !== null && !Array.isArray(o) ? (o as Doc)[k] : undefined;

// ── Connect ──────────────────────────────────────────────────────────────────────────────

/** `apiVersion` as a number; absent means 1 (DESIGN.md, Connect table). */
function apiVersionOf(d: Doc): number {
  const v = d.apiVersion;
  return v === undefined ? 1 : Number(v);
}

function connectApiVersion(a: Doc, b: Doc, p: ConnectPolicy): RuleHit {
  const before = apiVersionOf(a);
  const after = apiVersionOf(b);
  if (before === after || !p.apiVersion.enabled) return NO_HIT;
  return {
    reasons: [reason('connect.api-version', p.apiVersion, 'apiVersion', `apiVersion changed: ${before} -> ${after}`)],
    explains: ['apiVersion'],
  };
}

/**
 * True when `scope` is implied by `held` under Jira's chain (READ ⊂ WRITE ⊂ DELETE ⊂
 * PROJECT_ADMIN ⊂ ADMIN), or under `rules` when given. Standalone and unknown scopes are implied
 * only by themselves: an unknown scope counts as an increase (default-deny, as Atlassian's
 * `connect-to-forge check-upgrade` does).
 */
export function isScopeImplied(
  scope: string,
  held: ReadonlySet<string>,
  rules: ProductScopes = defaultPolicy.connect.products.jira,
): boolean {
  return isImpliedBy(scope, held, rules);
}

/**
 * The scope rule of the product's chain (DESIGN.md, "Connect scopes differ by product"): a scope
 * the old set does not imply is an increase; a new descriptor without `scopes` where the product
 * reads that as every scope (Bitbucket) is one too, unless the old one had none either.
 */
function connectScopeIncrease(a: Doc, b: Doc, p: ConnectPolicy, choice: ProductChoice): RuleHit {
  if (!p.scopeIncrease.enabled) return NO_HIT;
  const rules = p.products[choice.product];
  const held = heldScopes(a, rules);
  const next = heldScopes(b, rules);
  const why = ` (product: ${choice.detail})`;
  if (next === 'all') {
    if (held === 'all') return NO_HIT;
    const detail = `scopes removed: without a scopes list a ${PRODUCT_NAME[choice.product]} app holds every scope${why}`;
    return { reasons: [reason('connect.scope-increase', p.scopeIncrease, 'scopes', detail)], explains: ['scopes'] };
  }
  const reasons = [...next]
    .filter((s) => !isImpliedBy(s, held, rules))
    .sort()
    .map((s) => reason('connect.scope-increase', p.scopeIncrease, 'scopes', `scope added: ${s}${why}`));
  return reasons.length ? { reasons, explains: ['scopes'] } : NO_HIT;
}

function connectFreeToPaid(a: Doc, b: Doc, p: ConnectPolicy): RuleHit {
  if (!p.freeToPaid.enabled || a.enableLicensing === true || b.enableLicensing !== true) return NO_HIT;
  return {
    reasons: [
      reason(
        'connect.free-to-paid',
        p.freeToPaid,
        'enableLicensing',
        'licensing: free -> paid (enableLicensing set to true)',
      ),
    ],
    explains: ['enableLicensing'],
  };
}

function connectBaseUrl(a: Doc, b: Doc, p: ConnectPolicy): RuleHit {
  if (!p.baseUrl.enabled || a.baseUrl === b.baseUrl) return NO_HIT;
  return {
    reasons: [
      reason('connect.base-url', p.baseUrl, 'baseUrl', `baseUrl changed: ${show(a.baseUrl)} -> ${show(b.baseUrl)}`),
    ],
    explains: ['baseUrl'],
  };
}

// ── Forge ────────────────────────────────────────────────────────────────────────────────

function forgeScopeRules(a: Doc, b: Doc, p: ForgePolicy): RuleHit {
  const before = forgeScopes(a);
  const after = forgeScopes(b);
  const reasons: Reason[] = [];
  if (p.scopeAdded.enabled) {
    for (const s of [...after].sort())
      if (!before.has(s))
        reasons.push(reason('forge.scope-added', p.scopeAdded, 'permissions.scopes', `scope added: ${s}`));
  }
  if (p.scopeRemoved.enabled) {
    for (const s of [...before].sort())
      if (!after.has(s))
        reasons.push(reason('forge.scope-removed', p.scopeRemoved, 'permissions.scopes', `scope removed: ${s}`));
  }
  return reasons.length ? { reasons, explains: ['permissions.scopes'] } : NO_HIT;
}

function forgeEgressRules(a: Doc, b: Doc, p: ForgePolicy): RuleHit {
  const before = egressEntries(a);
  const after = egressEntries(b);
  const reasons: Reason[] = [];
  const fmt = (e: string) => e.replace('\t', ' ');
  const at = (e: string) => `permissions.external.${e.slice(0, e.indexOf('\t'))}`;
  if (p.egressAdded.enabled) {
    for (const e of [...after].sort())
      if (!before.has(e)) reasons.push(reason('forge.egress-added', p.egressAdded, at(e), `egress added: ${fmt(e)}`));
  }
  if (p.egressRemoved.enabled) {
    for (const e of [...before].sort())
      if (!after.has(e))
        reasons.push(reason('forge.egress-removed', p.egressRemoved, at(e), `egress removed: ${fmt(e)}`));
  }
  return reasons.length ? { reasons, explains: ['permissions.external'] } : NO_HIT;
}

function forgeWholeValueRule(
  rule: string,
  outcome: RuleOutcome,
  path: string,
  what: string,
  va: unknown,
  vb: unknown,
): RuleHit {
  if (!outcome.enabled || canonOf((va ?? null) as Json) === canonOf((vb ?? null) as Json)) return NO_HIT;
  return { reasons: [reason(rule, outcome, path, `${what} changed: ${show(va)} -> ${show(vb)}`)], explains: [path] };
}

function byKey(v: unknown): Map<string, Doc> {
  return new Map(
    Array.isArray(v) ? (v as Doc[]).filter((x) => typeof x?.key === 'string').map((x) => [x.key as string, x]) : [],
  );
}

function forgeAuthProviders(a: Doc, b: Doc, p: ForgePolicy): RuleHit {
  if (!p.authProvider.enabled) return NO_HIT;
  const before = byKey(get(a.providers, 'auth'));
  const after = byKey(get(b.providers, 'auth'));
  const hit: RuleHit = { reasons: [], explains: [] };
  const add = (key: string, path: string, detail: string) => {
    hit.reasons.push(reason('forge.auth-provider', p.authProvider, path, detail));
    hit.explains.push(path);
  };
  for (const k of [...after.keys()].sort())
    if (!before.has(k)) add(k, `providers.auth[key=${k}]`, `auth provider added: ${k}`);
  for (const k of [...before.keys()].sort()) {
    const old = before.get(k)!;
    const cur = after.get(k);
    if (!cur) add(k, `providers.auth[key=${k}]`, `auth provider removed: ${k}`);
    else if (old.clientId !== cur.clientId)
      add(
        k,
        `providers.auth[key=${k}].clientId`,
        `auth provider ${k} client id changed: ${show(old.clientId)} -> ${show(cur.clientId)}`,
      );
  }
  return hit;
}

function forgeRemotes(a: Doc, b: Doc, p: ForgePolicy): RuleHit {
  const before = byKey(a.remotes);
  const after = byKey(b.remotes);
  const hit: RuleHit = { reasons: [], explains: [] };
  for (const [k, cur] of [...after].sort(([x], [y]) => (x < y ? -1 : 1))) {
    const old = before.get(k);
    if (!old) {
      if (!p.remoteAdded.enabled) continue;
      hit.reasons.push(reason('forge.remote-added', p.remoteAdded, `remotes[key=${k}]`, `remote added: ${k}`));
      hit.explains.push(`remotes[key=${k}]`);
    } else if (
      p.remoteBaseUrl.enabled &&
      canonOf((old.baseUrl ?? null) as Json) !== canonOf((cur.baseUrl ?? null) as Json)
    ) {
      const path = `remotes[key=${k}].baseUrl`;
      hit.reasons.push(
        reason(
          'forge.remote-base-url',
          p.remoteBaseUrl,
          path,
          `remote ${k} baseUrl changed: ${show(old.baseUrl)} -> ${show(cur.baseUrl)}`,
        ),
      );
      hit.explains.push(path);
    }
  }
  return hit;
}

function forgeSqlModule(a: Doc, b: Doc, p: ForgePolicy): RuleHit {
  const has = (d: Doc) => {
    const s = get(d.modules, 'sql');
    return Array.isArray(s) ? s.length > 0 : s !== undefined && s !== null;
  };
  if (!p.sqlModule.enabled || has(a) || !has(b)) return NO_HIT;
  return {
    reasons: [reason('forge.sql-module', p.sqlModule, 'modules.sql', 'sql module added')],
    explains: ['modules.sql'],
  };
}

// ── shared ───────────────────────────────────────────────────────────────────────────────

function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);
}

/** `modules.webPanels[key=x].url` → `modules.webPanels`: the level a vendor reads in a summary. */
function summaryPath(path: string): string {
  const cut = path.search(/\[/);
  const head = cut >= 0 ? path.slice(0, cut) : path;
  return head.split('.').slice(0, 2).join('.') || path;
}

function otherReason(rule: string, outcome: RuleOutcome, leftover: DescriptorChange[]): Reason {
  const parts: string[] = [];
  const seen = new Set<string>();
  for (const c of leftover) {
    const s = summaryPath(c.path);
    const whole = c.path === s && c.kind !== 'changed' ? ` (${c.kind})` : '';
    const label = s + whole;
    if (!seen.has(label)) {
      seen.add(label);
      parts.push(label);
    }
  }
  const shown = parts.slice(0, 12).join(', ') + (parts.length > 12 ? `, (+${parts.length - 12} more)` : '');
  return reason(rule, outcome, leftover[0]!.path, `other change: ${shown}`);
}

function appKeyWarning(before: ParsedDescriptor, after: ParsedDescriptor): ChangeWarning[] {
  if (before.appKey === after.appKey) return [];
  const path = after.kind === 'connect' ? 'key' : 'app.id';
  return [
    {
      code: 'app-key-changed',
      path,
      detail: `${path} changed: ${show(before.appKey)} -> ${show(after.appKey)}; to the marketplace this is a different app (a development and a production registration?). The rest of the change is classified as usual.`,
    },
  ];
}

function summarize(
  kind: ParsedDescriptor['kind'],
  reasons: Reason[],
  warnings: ChangeWarning[],
  changes: DescriptorChange[],
): Classification {
  let bump: Bump = 'none';
  let approval: Approval = 'automatic';
  for (const r of reasons) {
    bump = maxBump(bump, r.bump);
    if (r.approval === 'manual') approval = 'manual';
  }
  return { kind, bump, approval, reasons, warnings, changes };
}

/** Options of classifyChange and classifyDeploy. */
export interface ClassifyOptions {
  /** The Connect app's product, when known (an option, the app's registration); inferred otherwise. */
  product?: ConnectProduct;
  /** Where `product` came from, for the reasons, e.g. `--product`, `the app's registration`. */
  productBy?: string;
}

/**
 * Classifies the change from `before` to `after` (same kind) under `policy`. A Connect change is
 * judged by its product's scope rules: `opts.product`, else inferred from the two descriptors'
 * module types, else Jira (`chooseProduct`); the result names it (`product`), and so do its scope
 * reasons.
 *
 * @returns `{ bump, approval, reasons, warnings, changes }`: bump `none` (with no reasons) when the
 *   canonical forms are equal, i.e. only whitespace, key order or set order changed.
 * @throws Error when the two descriptors are of different kinds (a programming error: callers
 *   parse both with the same kind).
 */
export function classifyChange(
  before: ParsedDescriptor,
  after: ParsedDescriptor,
  policy: VersioningPolicy = defaultPolicy,
  opts: ClassifyOptions = {},
): Classification {
  if (before.kind !== after.kind)
    throw new Error(`cannot compare a ${before.kind} descriptor with a ${after.kind} one`);
  const kind = after.kind;
  const choice =
    kind === 'connect' ? chooseProduct([after.document, before.document], opts.product, opts.productBy) : undefined;
  const withProduct = (c: Classification): Classification => (choice ? { ...c, product: choice } : c);
  if (before.hash === after.hash) return withProduct(summarize(kind, [], [], []));
  // Rules read the normalised documents: same members as written, sets sorted, and each
  // subtree's canonical JSON already cached (canonOf), so comparisons cost one string compare.
  const a = before.normalized as Doc;
  const b = after.normalized as Doc;
  const changes = diffDocuments(before.normalized as Json, after.normalized as Json);
  const warnings = appKeyWarning(before, after);
  let hits: RuleHit[];
  let other: { rule: string; outcome: RuleOutcome };
  if (kind === 'connect') {
    const p = policy.connect;
    hits = [
      connectApiVersion(a, b, p),
      connectScopeIncrease(a, b, p, choice!),
      connectFreeToPaid(a, b, p),
      connectBaseUrl(a, b, p),
    ];
    other = { rule: 'connect.other', outcome: p.other };
    if (
      apiVersionOf(a) === apiVersionOf(b) &&
      canonOf((a.apiVersion ?? null) as Json) !== canonOf((b.apiVersion ?? null) as Json)
    ) {
      warnings.push({
        code: 'api-version-spelling',
        path: 'apiVersion',
        detail: `apiVersion written differently with the same meaning (${show(a.apiVersion)} -> ${show(b.apiVersion)}): not an apiVersion change`,
      });
    }
  } else {
    const p = policy.forge;
    const pa = a.permissions;
    const pb = b.permissions;
    hits = [
      forgeScopeRules(a, b, p),
      forgeEgressRules(a, b, p),
      p.content.enabled
        ? forgeWholeValueRule(
            'forge.content',
            p.content,
            'permissions.content',
            'permissions.content',
            get(pa, 'content'),
            get(pb, 'content'),
          )
        : NO_HIT,
      p.licensing.enabled
        ? forgeWholeValueRule(
            'forge.licensing',
            p.licensing,
            'app.licensing',
            'app.licensing',
            get(a.app, 'licensing'),
            get(b.app, 'licensing'),
          )
        : NO_HIT,
      forgeAuthProviders(a, b, p),
      forgeRemotes(a, b, p),
      forgeSqlModule(a, b, p),
    ];
    other = { rule: 'forge.other', outcome: p.other };
  }
  const reasons = hits.flatMap((h) => h.reasons);
  const explained = hits.flatMap((h) => h.explains);
  const leftover = changes.filter((c) => !explained.some((e) => isUnder(c.path, e)));
  if (leftover.length && other.outcome.enabled) reasons.push(otherReason(other.rule, other.outcome, leftover));
  return withProduct(summarize(kind, reasons, warnings, changes));
}

/**
 * Classifies a Forge production deployment (DESIGN.md, "Detection rules": every production deploy
 * is a new version, even when the manifest is unchanged, since the code changed). Never returns
 * bump `none`: an unchanged manifest is a code-only deploy, the `other` rule (minor, automatic).
 * With no previous manifest (`before` null) the deploy is the app's first version: the result has
 * no reasons and `nextVersion(kind, null, …)` gives the initial version.
 */
export function classifyDeploy(
  before: ParsedDescriptor | null,
  after: ParsedDescriptor,
  policy: VersioningPolicy = defaultPolicy,
  opts: ClassifyOptions = {},
): Classification {
  const other = after.kind === 'forge' ? policy.forge.other : policy.connect.other;
  if (before === null) return summarize(after.kind, [], [], []);
  const c = classifyChange(before, after, policy, opts);
  if (c.bump !== 'none') return c;
  const rule = after.kind === 'forge' ? 'forge.other' : 'connect.other';
  const r = reason(
    rule,
    { ...other, bump: other.bump === 'none' ? 'minor' : other.bump },
    '$',
    'code-only deploy: the manifest is unchanged',
  );
  return { ...summarize(after.kind, [r], c.warnings, c.changes), ...(c.product ? { product: c.product } : {}) };
}
