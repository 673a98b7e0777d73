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
import { AppError, ErrorCode } from '../lib/errors.js';

/** JSON value as read from a descriptor. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * Deepest nesting of objects and arrays a descriptor or manifest may have (the root object is
 * level 1; `{"a":{"b":1}}` is 2). The deepest real one in fixtures/real is 9 levels (Connect
 * modules with nested conditions, Forge module properties), so 64 is seven times that; it keeps
 * every recursive walk of a descriptor (normalize, diff, classification, JSON.stringify) a few
 * hundred frames from Node's stack limit, which a 3,000-level, 12 KB descriptor overflowed.
 * Deeper input is `descriptor-invalid` (parse-descriptor.ts checks it before canonicalising).
 */
export const MAX_DESCRIPTOR_DEPTH = 64;

/**
 * The path (`$.a.b[3]`) of the first object or array nested deeper than `max`, or null when none
 * is. Iterative, so a value of any depth is checked without recursion; it stops at the first
 * too-deep value, so a cyclic value (a recursive YAML alias) ends too.
 */
export function findTooDeep(value: unknown, max: number = MAX_DESCRIPTOR_DEPTH): string | null {
  const stack: Array<{ v: unknown; depth: number; path: string }> = [{ v: value, depth: 1, path: '$' }];
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > max) return path;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], depth: depth + 1, path: `${path}[${i}]` });
    } else {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i]!;
        stack.push({ v: (v as Record<string, unknown>)[k], depth: depth + 1, path: `${path}.${k}` });
      }
    }
  }
  return null;
}

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

/** The canonical JSON cached on an object or array built by `normalize`, or undefined. Never computes it. */
export function cachedCanonOf(v: object): string | undefined {
  return (v as WithCanon)[CANON];
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
 * @throws AppError `descriptor-invalid` when `value` nests deeper than `MAX_DESCRIPTOR_DEPTH`
 *   (parseDescriptor refuses such input first, with its path; this bounds the recursion for any
 *   other caller)
 */
export function normalize(value: unknown): Json {
  return normalizeAt(value, 1);
}

function normalizeAt(value: unknown, depth: number): Json {
  if (depth > MAX_DESCRIPTOR_DEPTH && typeof value === 'object' && value !== null) {
    throw new AppError(
      ErrorCode.DESCRIPTOR_INVALID,
      `the descriptor nests objects or arrays deeper than ${MAX_DESCRIPTOR_DEPTH} levels`,
      { details: { maxDepth: MAX_DESCRIPTOR_DEPTH } },
    );
  }
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
    const items = value.map((v) => normalizeAt(v, depth + 1));
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
      const n = normalizeAt(v, depth + 1);
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
