/**
 * Connect scopes differ by product (DESIGN.md, "Connect scopes differ by product"; sources: each
 * product's "Scopes for Connect apps" page and "Scopes for the Bitbucket Cloud REST API" on
 * developer.atlassian.com). A descriptor does not name its product: it comes from the caller (an
 * explicit option, or the app's registration) and otherwise is inferred from module types. Pure.
 */
import type { Json } from './canonical.js';

/** The products a Connect app is written for. */
export type ConnectProduct = 'jira' | 'confluence' | 'bitbucket';

/** Every product, in the order options list them. */
export const CONNECT_PRODUCTS: readonly ConnectProduct[] = Object.freeze(['jira', 'confluence', 'bitbucket']);

/** A product's name as people write it. */
export const PRODUCT_NAME: Readonly<Record<ConnectProduct, string>> = Object.freeze({
  jira: 'Jira',
  confluence: 'Confluence',
  bitbucket: 'Bitbucket',
});

/**
 * One product's scope rules, as policy data.
 * - `chain`: scopes in increasing power; each implies every scope before it.
 * - `implies`: further implications, scope → the scopes it implies directly (transitive).
 * - `standalone`: known scopes that imply nothing and are implied by nothing (documentation: any
 *   scope outside the chain and `implies` behaves so; an unknown one is an increase, default-deny).
 * - `absent`: what a descriptor without `scopes` holds: a list, or `all` (every scope).
 * - `case`: how names are compared (Jira and Confluence read `read` as `READ`; Bitbucket names are
 *   lower-case, e.g. `repository:write`).
 */
export interface ProductScopes {
  chain: string[];
  implies: Record<string, string[]>;
  standalone: string[];
  absent: string[] | 'all';
  case: 'upper' | 'lower';
}

/**
 * The defaults, as DESIGN.md states them with its sources:
 * - Jira ("Scopes for Connect apps", Jira): READ < WRITE < DELETE < PROJECT_ADMIN < ADMIN;
 *   ACT_AS_USER and ACCESS_EMAIL_ADDRESSES stand alone; absent means READ.
 * - Confluence ("Scopes for Connect apps", Confluence): READ < WRITE < DELETE < SPACE_ADMIN < ADMIN;
 *   the same stand-alone scopes; absent means READ.
 * - Bitbucket ("Scopes for the Bitbucket Cloud REST API"): absent means every scope;
 *   `repository:write` implies `repository`, `pullrequest` implies `repository`;
 *   `repository:admin` implies neither; any other pair is independent.
 */
export const DEFAULT_PRODUCT_SCOPES: Readonly<Record<ConnectProduct, ProductScopes>> = {
  jira: {
    chain: ['READ', 'WRITE', 'DELETE', 'PROJECT_ADMIN', 'ADMIN'],
    implies: {},
    standalone: ['ACT_AS_USER', 'ACCESS_EMAIL_ADDRESSES'],
    absent: ['READ'],
    case: 'upper',
  },
  confluence: {
    chain: ['READ', 'WRITE', 'DELETE', 'SPACE_ADMIN', 'ADMIN'],
    implies: {},
    standalone: ['ACT_AS_USER', 'ACCESS_EMAIL_ADDRESSES'],
    absent: ['READ'],
    case: 'upper',
  },
  bitbucket: {
    chain: [],
    implies: { 'repository:write': ['repository'], pullrequest: ['repository'] },
    standalone: ['account', 'repository:admin', 'webhook', 'pullrequest:write', 'issue', 'issue:write', 'wiki'],
    absent: 'all',
    case: 'lower',
  },
};

/**
 * Module types only one product has (Connect module reference of each product). Jira's start
 * with `jira` (or are Jira Service Management's `serviceDesk…`); Confluence's and Bitbucket's
 * are listed. Modules all three have (`webItems`, `webPanels`, `generalPages`, `webhooks`…) tell
 * nothing.
 */
const CONFLUENCE_MODULES = new Set([
  'staticContentMacros',
  'dynamicContentMacros',
  'customContent',
  'contentBylineItems',
  'spaceToolsTabs',
  'blueprints',
  'confluenceContentProperties',
  'confluenceContentBylineItems',
]);
const BITBUCKET_MODULES = new Set(['repoPages', 'fileViews', 'linkers', 'profileTabs', 'oauthConsumer']);

/** Module type → product (or null: it tells nothing); a descriptor's few types repeat across descriptors. */
const MODULE_PRODUCT = new Map<string, ConnectProduct | null>();

function productOfModule(type: string): ConnectProduct | undefined {
  let p = MODULE_PRODUCT.get(type);
  if (p === undefined) {
    p = productOfModuleType(type) ?? null;
    // Bounded: module type names come from descriptors, which anyone may write.
    if (MODULE_PRODUCT.size < 10_000) MODULE_PRODUCT.set(type, p);
  }
  return p ?? undefined;
}

function productOfModuleType(type: string): ConnectProduct | undefined {
  if (type.startsWith('jira') || type.startsWith('serviceDesk') || type.startsWith('agile')) return 'jira';
  if (CONFLUENCE_MODULES.has(type) || type.startsWith('confluence')) return 'confluence';
  if (BITBUCKET_MODULES.has(type) || type.startsWith('bitbucket')) return 'bitbucket';
  return undefined;
}

/**
 * Bitbucket's scope names ("Scopes for the Bitbucket Cloud REST API"): none of them is a Jira or
 * Confluence scope, so a descriptor whose modules tell nothing (a `webhooks`-only Bitbucket app)
 * is still recognised by them.
 */
const BITBUCKET_SCOPE =
  /^(account|repository|pullrequest|webhook|issue|wiki|snippet|project|team|pipeline|runner|email)(:[a-z]+)?$/;

/** Where a product came from: said by the caller (option or registration), inferred, or the default. */
export interface ProductChoice {
  product: ConnectProduct;
  source: 'given' | 'modules' | 'scopes' | 'default';
  /** Words for a reason, e.g. `Confluence, inferred from module types: dynamicContentMacros`. */
  detail: string;
}

/**
 * The product of a Connect descriptor (its document, as written or normalised): `given` when the
 * caller names it; otherwise inferred from its module types when they name exactly one product;
 * otherwise Jira (the chain DESIGN.md's Connect table states).
 * @param givenBy words for where a given product came from, e.g. `--product`, `the app's registration`.
 */
export function chooseProduct(
  doc: Record<string, unknown> | readonly Record<string, unknown>[],
  given?: ConnectProduct,
  givenBy = 'given',
): ProductChoice {
  if (given) return { product: given, source: 'given', detail: `${PRODUCT_NAME[given]} (${givenBy})` };
  const docs = Array.isArray(doc) ? doc : [doc as Record<string, unknown>];
  const found = new Map<ConnectProduct, string[]>();
  for (const d of docs) {
    const modules = d.modules as Record<string, Json> | undefined;
    if (typeof modules !== 'object' || modules === null || Array.isArray(modules)) continue;
    for (const type of Object.keys(modules)) {
      const p = productOfModule(type);
      if (!p) continue;
      const types = found.get(p);
      if (!types) found.set(p, [type]);
      else if (!types.includes(type)) types.push(type);
    }
  }
  if (found.size === 1) {
    const [product, types] = [...found][0]!;
    return {
      product,
      source: 'modules',
      detail: `${PRODUCT_NAME[product]}, inferred from module types: ${types.sort().join(', ')}`,
    };
  }
  if (found.size === 0) {
    const names = docs.flatMap((d) => (Array.isArray(d.scopes) ? (d.scopes as unknown[]) : []));
    const bb = [...new Set(names.filter((n): n is string => typeof n === 'string' && BITBUCKET_SCOPE.test(n)))];
    if (bb.length > 0 && bb.length === new Set(names).size)
      return {
        product: 'bitbucket',
        source: 'scopes',
        detail: `Bitbucket, inferred from its scope names: ${bb.sort().join(', ')} (no module type names a product)`,
      };
  }
  const why =
    found.size === 0
      ? 'no product given and no module type names one'
      : `module types name several products (${[...found.keys()].map((p) => PRODUCT_NAME[p]).join(', ')})`;
  return { product: 'jira', source: 'default', detail: `Jira, by default (${why})` };
}

/** Scopes a descriptor holds under `rules`: a set of names in the product's case, or `all`. */
export type HeldScopes = ReadonlySet<string> | 'all';

/** A scope name in the product's case. */
export function scopeName(s: string, rules: Pick<ProductScopes, 'case'>): string {
  const t = s.trim();
  return rules.case === 'upper' ? t.toUpperCase() : t.toLowerCase();
}

/** The scopes a Connect document holds: its `scopes` list, or the product's meaning of an absent one. */
export function heldScopes(doc: Record<string, unknown>, rules: ProductScopes): HeldScopes {
  const s = doc.scopes as string[] | undefined;
  if (s === undefined) return rules.absent === 'all' ? 'all' : new Set(rules.absent.map((x) => scopeName(x, rules)));
  return new Set(s.map((x) => scopeName(x, rules)));
}

/**
 * True when `scope` (in the product's case) is implied by `held`: held itself, below a held scope
 * in the chain, or reachable from a held scope through `implies`. With `held` = `all`, every scope
 * is. A scope the rules do not know is implied only by itself (default-deny, as Atlassian's
 * `connect-to-forge check-upgrade` does).
 */
export function isImpliedBy(scope: string, held: HeldScopes, rules: ProductScopes): boolean {
  if (held === 'all' || held.has(scope)) return true;
  const rank = rules.chain.indexOf(scope);
  const seen = new Set<string>();
  const stack = [...held];
  while (stack.length) {
    const h = stack.pop()!;
    if (seen.has(h)) continue;
    seen.add(h);
    if (h === scope) return true;
    if (rank >= 0 && rules.chain.indexOf(h) >= rank) return true;
    for (const n of rules.implies[h] ?? []) stack.push(n);
  }
  return false;
}
