/**
 * The adoption verdict: what the move of an installation from a Connect app to its Forge
 * successor costs (DESIGN.md, "Connect to Forge adoption", after Atlassian's "Minor version
 * updates (Connect to Forge)"). Pure: the caller reads both files.
 *
 * The move is judged against the installed Connect descriptor: when the Forge manifest asks for
 * nothing beyond it, the move is a minor update without admin approval; otherwise it is major and
 * needs approval. Elevations: a Forge scope whose Connect equivalent the descriptor does not hold
 * (with the product's implication chain), an UNMAPPED scope or one missing from the table
 * (default-deny, as `check-upgrade` does), a licensing change, the Connect `baseUrl` not kept as a
 * remote, an auth provider. Extra remotes and ordinary egress are allowed.
 */
import { AppError, ErrorCode } from '../lib/errors.js';
import { maxBump } from './classify-change.js';
import type { ClassifyOptions } from './classify-change.js';
import {
  chooseProduct,
  heldScopes,
  isImpliedBy,
  PRODUCT_NAME,
  scopeName,
  type ConnectProduct,
  type HeldScopes,
  type ProductChoice,
} from './connect-products.js';
import { egressEntries, forgeScopes } from './forge-permissions.js';
import { defaultPolicy, type ScopeEquivalence, type VersioningPolicy } from './policy.js';
import { SHIPPED_SCOPE_EQUIVALENCES } from './scope-equivalences.js';
import type { Approval, Bump, ParsedDescriptor, Reason } from './types.js';

/** The verdict on a Connect → Forge move. `bump` is `minor` or `major` (policy `adoption`). */
export interface AdoptionVerdict {
  kind: 'connect-to-forge';
  bump: Bump;
  approval: Approval;
  /** The move itself first (`adoption.move`), then what was checked: elevations and what is allowed. */
  reasons: Reason[];
  /** The product whose scope rules applied, and where it came from. */
  product: ProductChoice;
  /** The Connect app's `key`, which the manifest's `app.connect.key` names. */
  connectKey: string;
  /** The Forge manifest's `app.id`, when present. */
  forgeAppId?: string;
}

/** Options of judgeAdoption: the product (see classifyChange) and the equivalence rows. */
export interface AdoptionOptions extends ClassifyOptions {
  /** The table; default the shipped rows. The policy's `adoption.scopeEquivalences` are added on top. */
  equivalences?: readonly ScopeEquivalence[];
}

type Doc = Record<string, unknown>;
const get = (o: unknown, k: string): unknown =>
  typeof o === 'object' && o !== null && !Array.isArray(o) ? (o as Doc)[k] : undefined;

/** A Connect scope in Forge form (`read:connect-jira`, `space-admin:connect-confluence`) → product and scope. */
const CONNECT_FORM =
  /^(read|write|delete|project-admin|space-admin|admin|act-as-user|access-email-addresses):connect-(jira|confluence)$/;

/** The manifest's `app.connect.key` as a string, or undefined. */
export function connectKeyOf(manifest: ParsedDescriptor): string | undefined {
  const k = get(get(manifest.document.app, 'connect'), 'key');
  return typeof k === 'string' ? k : undefined;
}

function invalid(source: string, path: string, problem: string): AppError {
  return new AppError(ErrorCode.DESCRIPTOR_INVALID, `${source}: ${path}: ${problem}`, {
    details: { source, path, problem },
  });
}

/**
 * Checks that `manifest` adopts `descriptor`: its `app.connect.key` is the descriptor's `key`.
 * @returns the Connect key.
 * @throws AppError `input-invalid` when the two are not a Connect descriptor and a Forge manifest;
 *   `descriptor-invalid` when the descriptor has no `key`, or `app.connect.key` is missing or
 *   names another app (DESIGN.md: an error before any permission check).
 */
export function checkAdoptionPair(descriptor: ParsedDescriptor, manifest: ParsedDescriptor): string {
  if (descriptor.kind !== 'connect' || manifest.kind !== 'forge')
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `a Connect to Forge move compares a Connect descriptor with a Forge manifest, got ${descriptor.source} ` +
        `(${descriptor.kind}) and ${manifest.source} (${manifest.kind})`,
    );
  const key = descriptor.appKey;
  if (typeof key !== 'string' || key === '')
    throw invalid(descriptor.source, 'key', 'the Connect descriptor has no key, so no Forge app can adopt it');
  const named = connectKeyOf(manifest);
  if (named === undefined)
    throw invalid(
      manifest.source,
      'app.connect.key',
      `missing: the manifest does not name a Connect app; to adopt ${JSON.stringify(key)} set app.connect.key: ${key}`,
    );
  if (named !== key)
    throw invalid(
      manifest.source,
      'app.connect.key',
      `names Connect app ${JSON.stringify(named)}, but ${descriptor.source} is ${JSON.stringify(key)}: ` +
        'a Forge app adopts only the Connect app it names',
    );
  return key;
}

/** The rows for `product` by Forge scope: the policy's rows over the table's. */
function rowsFor(
  table: readonly ScopeEquivalence[],
  extra: readonly ScopeEquivalence[],
): Map<string, ScopeEquivalence[]> {
  const m = new Map<string, ScopeEquivalence[]>();
  for (const r of [...table, ...extra]) {
    const list = (m.get(r.forgeScope) ?? []).filter((x) => x.product !== r.product);
    m.set(r.forgeScope, [...list, r]);
  }
  return m;
}

/** `https://host/a/b/page` → `host/…/page`: a row's source, short enough for a reason line. */
function shortSource(url: string): string {
  const m = /^https?:\/\/([^/]+)\/(?:.*\/)?([^/]+)\/?$/.exec(url);
  return m ? `${m[1]}/…/${m[2]}` : url;
}

const heldWords = (held: HeldScopes): string =>
  held === 'all' ? 'every scope (no scopes list)' : held.size ? [...held].sort().join(', ') : 'no scope';

/** A remote's `baseUrl` values (a string, or one per environment), without a trailing slash. */
function remoteUrls(remote: Doc): string[] {
  const b = remote.baseUrl;
  const all = typeof b === 'string' ? [b] : typeof b === 'object' && b !== null ? Object.values(b) : [];
  return all.filter((x): x is string => typeof x === 'string').map((u) => u.replace(/\/+$/, ''));
}

/**
 * Judges the move from the Connect `descriptor` to the Forge `manifest` that adopts it
 * (DESIGN.md, "Connect to Forge adoption"): see the module comment for the rules. The bump and
 * approval come from `policy.adoption` (`move`: minor, automatic; `elevation`: major, manual); the
 * reasons name each rule (`adoption.scope-elevation`, `adoption.scope-covered`, …) and path.
 * @throws AppError as checkAdoptionPair, before any permission is looked at.
 */
export function judgeAdoption(
  descriptor: ParsedDescriptor,
  manifest: ParsedDescriptor,
  policy: VersioningPolicy = defaultPolicy,
  opts: AdoptionOptions = {},
): AdoptionVerdict {
  const connectKey = checkAdoptionPair(descriptor, manifest);
  const choice = chooseProduct(descriptor.document, opts.product, opts.productBy);
  const product: ConnectProduct = choice.product;
  const rules = policy.connect.products[product];
  const up = policy.adoption.elevation;
  const ok = { bump: 'none' as Bump, approval: 'automatic' as Approval };
  const reasons: Reason[] = [];
  const push = (rule: string, o: { bump: Bump; approval: Approval }, path: string, detail: string) =>
    reasons.push({ rule, bump: o.bump, approval: o.approval, path, detail });
  const c = descriptor.document;
  const f = manifest.normalized as Doc;
  const forgeId = manifest.appKey;

  push(
    'adoption.move',
    policy.adoption.move,
    'app.connect.key',
    `Connect app ${connectKey} (${choice.detail}) moves to Forge app ${forgeId ?? '(no app.id)'}`,
  );

  // Scopes, each through the equivalence table and the product's chain.
  const held = heldScopes(c, rules);
  const rows = rowsFor(opts.equivalences ?? SHIPPED_SCOPE_EQUIVALENCES, policy.adoption.scopeEquivalences);
  const P = PRODUCT_NAME[product];
  for (const s of [...forgeScopes(f)].sort()) {
    const path = 'permissions.scopes';
    const forProduct = rows.get(s)?.find((r) => r.product === product);
    const form = CONNECT_FORM.exec(s);
    let equivalent: string | undefined;
    let via = '';
    if (forProduct) {
      if (forProduct.connectScope === 'UNMAPPED') {
        push(
          'adoption.scope-elevation',
          up,
          path,
          `scope ${s}: UNMAPPED, no Connect equivalent (${shortSource(forProduct.source)})`,
        );
        continue;
      }
      equivalent = scopeName(forProduct.connectScope, rules);
      via = `the equivalence table (${shortSource(forProduct.source)})`;
    } else if (form && form[2] === product) {
      equivalent = scopeName(form[1]!.replace(/-/g, '_'), rules);
      via = 'the Connect scope in Forge form';
    } else {
      const elsewhere = form ? [form[2] as ConnectProduct] : (rows.get(s) ?? []).map((r) => r.product);
      const why = elsewhere.length
        ? `a ${elsewhere.map((p) => PRODUCT_NAME[p]).join('/')} scope, and this is a ${P} app`
        : 'not in the equivalence table (an unknown scope is an elevation)';
      push('adoption.scope-elevation', up, path, `scope ${s}: ${why}`);
      continue;
    }
    if (isImpliedBy(equivalent, held, rules))
      push(
        'adoption.scope-covered',
        ok,
        path,
        `scope ${s} = Connect ${equivalent} by ${via}: held (${heldWords(held)})`,
      );
    else
      push(
        'adoption.scope-elevation',
        up,
        path,
        `scope ${s} = Connect ${equivalent} by ${via}: not held (${P} app holds ${heldWords(held)})`,
      );
  }

  // Licensing must not change (DESIGN.md): paid stays paid, free stays free.
  const paidBefore = c.enableLicensing === true;
  const paidAfter = get(get(f.app, 'licensing'), 'enabled') === true;
  if (paidBefore !== paidAfter) {
    const w = (p: boolean) => (p ? 'paid' : 'free');
    push('adoption.licensing', up, 'app.licensing', `licensing changed: ${w(paidBefore)} -> ${w(paidAfter)}`);
  }

  // The Connect baseUrl kept as a remote: the one app.connect.remote names, else any remote.
  const remotes = (Array.isArray(f.remotes) ? (f.remotes as Doc[]) : []).filter((r) => typeof r?.key === 'string');
  const connectRemote = get(get(f.app, 'connect'), 'remote');
  let keeper: Doc | undefined;
  if (typeof c.baseUrl === 'string') {
    const base = c.baseUrl.replace(/\/+$/, '');
    const candidates = typeof connectRemote === 'string' ? remotes.filter((r) => r.key === connectRemote) : remotes;
    keeper = candidates.find((r) => remoteUrls(r).includes(base));
    if (keeper)
      push(
        'adoption.connect-remote',
        ok,
        `remotes[key=${String(keeper.key)}]`,
        `Connect baseUrl kept as remote ${String(keeper.key)}`,
      );
    else {
      const where =
        typeof connectRemote === 'string'
          ? candidates.length
            ? `remote ${connectRemote} (app.connect.remote) has baseUrl ${remoteUrls(candidates[0]!).join(', ') || 'none'}`
            : `app.connect.remote names ${connectRemote}, which is not among the remotes`
          : 'no remote has it';
      push('adoption.connect-remote', up, 'remotes', `Connect baseUrl ${c.baseUrl} not kept as a remote: ${where}`);
    }
  }
  for (const r of remotes)
    if (r !== keeper)
      push(
        'adoption.remote-added',
        ok,
        `remotes[key=${String(r.key)}]`,
        `remote ${String(r.key)}: allowed (an additional remote)`,
      );

  // Auth providers: Connect has none, so every one the manifest declares is added.
  const auth = get(f.providers, 'auth');
  for (const p of Array.isArray(auth) ? (auth as Doc[]) : [])
    push(
      'adoption.auth-provider',
      up,
      `providers.auth[key=${String(p?.key)}]`,
      `auth provider added: ${String(p?.key)}`,
    );

  const egress = egressEntries(f);
  if (egress.size)
    push(
      'adoption.egress',
      ok,
      'permissions.external',
      `egress: ${egress.size} entr${egress.size === 1 ? 'y' : 'ies'}, allowed (ordinary egress is no elevation)`,
    );

  let bump: Bump = 'none';
  let approval: Approval = 'automatic';
  for (const r of reasons) {
    bump = maxBump(bump, r.bump);
    if (r.approval === 'manual') approval = 'manual';
  }
  return {
    kind: 'connect-to-forge',
    bump,
    approval,
    reasons,
    product: choice,
    connectKey,
    ...(forgeId ? { forgeAppId: forgeId } : {}),
  };
}
