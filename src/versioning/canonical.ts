/**
 * Canonical form of a descriptor: what counts as "the same" to the marketplace.
 * Whitespace and key order are no change (DESIGN.md, "Detection rules"), and what is a set is
 * compared as a set (DESIGN.md, "Versioning rules": scopes; modules keyed by their `key`):
 * - object keys are sorted;
 * - an array of primitives is a set: sorted, duplicates dropped;
 * - an array of objects that each carry a distinct string `key` is keyed: sorted by `key`;
 * - any other array keeps its order.
 */
import { hash } from 'node:crypto';

/** JSON value as read from a descriptor. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** True when every element is a primitive (string, number, boolean, null). */
export function isPrimitiveArray(a: readonly unknown[]): boolean {
  for (const v of a) if (typeof v === 'object' && v !== null) return false;
  return true;
}

/** True when every element is an object with a string `key`, all distinct. Empty arrays are not keyed. */
export function isKeyedArray(a: readonly unknown[]): a is Array<{ key: string }> {
  if (a.length === 0) return false;
  const seen = new Set<string>();
  for (const v of a) {
    if (!isPlainObject(v) || typeof v.key !== 'string' || seen.has(v.key)) return false;
    seen.add(v.key);
  }
  return true;
}

const primitiveSortKey = (v: unknown): string => (typeof v === 'string' ? `s${v}` : `j${JSON.stringify(v)}`);

/**
 * Canonical JSON of every object and array built by `normalize`, kept beside it so that the diff
 * can skip equal subtrees with one string comparison instead of walking them.
 */
// A symbol-keyed member: invisible to JSON.stringify and Object.keys, and cheaper than a WeakMap.
const CANON: unique symbol = Symbol('canonical-json');
type WithCanon = { [CANON]?: string };

function setCanon<T extends object>(o: T, c: string): T {
  (o as WithCanon)[CANON] = c;
  return o;
}

/** Canonical JSON of a normalised value (cached on values built by `normalize`). */
export function canonOf(v: Json): string {
  if (typeof v === 'object' && v !== null) {
    let c = (v as WithCanon)[CANON];
    if (c === undefined) {
      c = JSON.stringify(v);
      setCanon(v, c);
    }
    return c;
  }
  return JSON.stringify(v);
}

// Descriptor keys repeat (key, url, name, location…): quote each once.
const QUOTED = new Map<string, string>();
function quoteKey(k: string): string {
  let q = QUOTED.get(k);
  if (q === undefined) {
    q = JSON.stringify(k);
    if (QUOTED.size < 10_000) QUOTED.set(k, q);
  }
  return q;
}

function allStrings(a: readonly unknown[]): a is string[] {
  for (const v of a) if (typeof v !== 'string') return false;
  return true;
}

/**
 * Returns the normalised copy of `value` (see the module comment). `undefined` members are dropped,
 * as JSON.stringify would. Pure; does not modify its input.
 */
export function normalize(value: unknown): Json {
  if (Array.isArray(value)) {
    if (allStrings(value)) {
      const out = Array.from(new Set(value)).sort();
      return setCanon(out, JSON.stringify(out));
    }
    if (isPrimitiveArray(value)) {
      const byKey = new Map<string, Json>();
      for (const v of value) byKey.set(primitiveSortKey(v), (v === undefined ? null : v) as Json);
      const out = [...byKey.keys()].sort().map((k) => byKey.get(k)!);
      return setCanon(out, JSON.stringify(out));
    }
    const items = value.map(normalize);
    if (isKeyedArray(items)) {
      (items as Array<{ key: string } & Json>).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    }
    let c = '[';
    for (let i = 0; i < items.length; i++) c += (i ? ',' : '') + canonOf(items[i]!);
    return setCanon(items, c + ']');
  }
  if (isPlainObject(value)) {
    const out: Record<string, Json> = {};
    let c = '{';
    for (const k of Object.keys(value).sort()) {
      const v = value[k];
      if (v === undefined) continue;
      const n = normalize(v);
      out[k] = n;
      c += (c.length > 1 ? ',' : '') + quoteKey(k) + ':' + canonOf(n);
    }
    return setCanon(out, c + '}');
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  return (value ?? null) as Json;
}

/** Canonical JSON text of `value`: `JSON.stringify(normalize(value))`. */
export function canonicalJson(value: unknown): string {
  return canonOf(normalize(value));
}

/** `sha256:` + lowercase hex sha256 of the UTF-8 bytes of `canonical`. */
export function hashCanonical(canonical: string): string {
  return `sha256:${hash('sha256', canonical, 'hex')}`;
}
