/**
 * Readers of a Forge manifest's permissions, shared by classification and bulk-upgrade checks.
 * They take the normalised document (`ParsedDescriptor.normalized`).
 */
import { canonOf, type Json } from './canonical.js';

const get = (o: unknown, k: string): unknown =>
  typeof o === 'object' && o !== null && !Array.isArray(o) ? (o as Record<string, unknown>)[k] : undefined;

/** `permissions.scopes` as a set of strings (an object entry by its canonical JSON). */
export function forgeScopes(d: Record<string, unknown>): Set<string> {
  const s = get(d.permissions, 'scopes');
  const items: unknown[] = Array.isArray(s) ? s : typeof s === 'object' && s !== null ? Object.values(s).flat() : [];
  return new Set(items.map((x) => (typeof x === 'string' ? x : canonOf(x as Json))));
}

/**
 * One egress entry as the string an admin consents to: a plain string as written; an object by
 * its `address` (its `category` / `inScopeEUD` labels describe the address, they do not widen it)
 * or its `remote` (`remote:<key>`); any other object by its canonical JSON.
 */
function egressEntry(x: unknown): string {
  if (typeof x === 'string') return x;
  const o = x as { address?: unknown; remote?: unknown } | null;
  if (o && typeof o.address === 'string') return o.address;
  if (o && typeof o.remote === 'string') return `remote:${o.remote}`;
  return canonOf(x as Json);
}

/**
 * Egress entries of `permissions.external` as `kind<TAB>entry` strings, e.g.
 * `fetch.backend\thttps://api.example.com`; a non-list value as `kind<TAB>=<json>`. Compared
 * literally per kind: no wildcard or placeholder resolution.
 */
export function egressEntries(d: Record<string, unknown>): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) {
      for (const x of v) out.add(`${path}\t${egressEntry(x)}`);
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
    } else if (v !== undefined && v !== null) {
      out.add(`${path}\t=${JSON.stringify(v)}`);
    }
  };
  walk(get(d.permissions, 'external'), '');
  return out;
}
