/**
 * Canonical form of a descriptor: what counts as "the same" to the marketplace.
 * Whitespace and key order are no change (DESIGN.md, "Detection rules"), and what is a set is
 * compared as a set (DESIGN.md, "Versioning rules": scopes; modules keyed by their `key`):
 * - object keys are sorted;
 * - an array of primitives is a set: sorted, duplicates dropped;
 * - an array of objects that each carry a distinct string `key` is keyed: sorted by `key`;
 * - any other array keeps its order.
 */
import { createHash } from 'node:crypto';

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
 * Returns the normalised copy of `value` (see the module comment). `undefined` members are dropped,
 * as JSON.stringify would. Pure; does not modify its input.
 */
export function normalize(value: unknown): Json {
  if (Array.isArray(value)) {
    if (isPrimitiveArray(value)) {
      const byKey = new Map<string, Json>();
      for (const v of value) byKey.set(primitiveSortKey(v), (v === undefined ? null : v) as Json);
      return [...byKey.keys()].sort().map((k) => byKey.get(k)!);
    }
    const items = value.map(normalize);
    if (isKeyedArray(items)) {
      return (items as Array<{ key: string } & Json>).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    }
    return items;
  }
  if (isPlainObject(value)) {
    const out: Record<string, Json> = {};
    for (const k of Object.keys(value).sort()) {
      const v = value[k];
      if (v !== undefined) out[k] = normalize(v);
    }
    return out;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  return (value ?? null) as Json;
}

/** Canonical JSON text of `value`: `JSON.stringify(normalize(value))`. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(normalize(value));
}

/** `sha256:` + lowercase hex sha256 of the UTF-8 bytes of `canonical`. */
export function hashCanonical(canonical: string): string {
  return `sha256:${createHash('sha256').update(canonical, 'utf8').digest('hex')}`;
}
