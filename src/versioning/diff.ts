/**
 * Structural diff of two normalised descriptors (see canonical.ts): the list of changes, each
 * with its JSON path, kind and the values before and after.
 *
 * Paths: `a.b` for object members (`a["odd key"]` when a key is not an identifier),
 * `modules.webPanels[key=panel-1]` for keyed arrays, `scopes` with kind added/removed and the
 * element as after/before for sets of primitives, `[3]` for positional arrays.
 */
import { MAX_DESCRIPTOR_DEPTH, cachedCanonOf, isKeyedArray, isPrimitiveArray, type Json } from './canonical.js';
import type { DescriptorChange } from './types.js';

const IDENT = /^[A-Za-z_$][\w$:-]*$/;

/** Appends member `k` to `path` (no leading dot at the root). */
export function joinPath(path: string, k: string): string {
  const seg = IDENT.test(k) ? k : `[${JSON.stringify(k)}]`;
  if (!path) return seg.startsWith('[') ? seg : seg;
  return seg.startsWith('[') ? `${path}${seg}` : `${path}.${seg}`;
}

const isObj = (v: Json | undefined): v is { [k: string]: Json } =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Deep equality of two normalised JSON values (object key order ignored). Iterative: any depth,
 * no recursion. Subtrees built by `normalize` compare by their cached canonical JSON.
 */
export function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  const stack: Array<[Json | undefined, Json | undefined]> = [[a, b]];
  while (stack.length > 0) {
    const [x, y] = stack.pop()!;
    if (x === y) continue;
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
    const cx = cachedCanonOf(x);
    const cy = cachedCanonOf(y);
    if (cx !== undefined && cy !== undefined) {
      if (cx !== cy) return false;
      continue;
    }
    if (Array.isArray(x)) {
      if (!Array.isArray(y) || x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) stack.push([x[i], y[i]]);
      continue;
    }
    if (Array.isArray(y)) return false;
    const kx = Object.keys(x);
    if (kx.length !== Object.keys(y).length) return false;
    for (const k of kx) {
      if (!(k in y)) return false;
      stack.push([x[k], y[k]]);
    }
  }
  return true;
}

/**
 * Lists the differences between `before` and `after` (both normalised), in path order.
 * `path` is the prefix for every reported path ('' for the document root). The walk stops at
 * `MAX_DESCRIPTOR_DEPTH` levels (deeper than any parsed descriptor): a subtree that differs below
 * it is reported as one change, so the diff never recurses without bound.
 */
export function diffDocuments(before: Json | undefined, after: Json | undefined, path = ''): DescriptorChange[] {
  const out: DescriptorChange[] = [];
  diffInto(before, after, path, out, 1);
  return out;
}

function diffInto(
  a: Json | undefined,
  b: Json | undefined,
  path: string,
  out: DescriptorChange[],
  depth: number,
): void {
  if (a === undefined && b === undefined) return;
  if (a === undefined) {
    out.push({ path, kind: 'added', after: b });
    return;
  }
  if (b === undefined) {
    out.push({ path, kind: 'removed', before: a });
    return;
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    // Values built by `normalize` carry their canonical JSON: equal subtrees cost one comparison.
    const ca = cachedCanonOf(a);
    if (ca !== undefined && ca === cachedCanonOf(b)) return;
  }
  if (depth > MAX_DESCRIPTOR_DEPTH) {
    if (!jsonEqual(a, b)) out.push({ path, kind: 'changed', before: a, after: b });
    return;
  }
  if (isObj(a) && isObj(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of [...keys].sort()) diffInto(a[k], b[k], joinPath(path, k), out, depth + 1);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    diffArrays(a, b, path, out, depth);
    return;
  }
  if (!jsonEqual(a, b)) out.push({ path, kind: 'changed', before: a, after: b });
}

function diffArrays(a: Json[], b: Json[], path: string, out: DescriptorChange[], depth: number): void {
  const aKeyed = a.length === 0 || isKeyedArray(a);
  const bKeyed = b.length === 0 || isKeyedArray(b);
  if (aKeyed && bKeyed && (a.length > 0 || b.length > 0)) {
    const am = new Map((a as Array<{ key: string } & Json>).map((x) => [x.key, x as Json]));
    const bm = new Map((b as Array<{ key: string } & Json>).map((x) => [x.key, x as Json]));
    const keys = [...new Set([...am.keys(), ...bm.keys()])].sort();
    for (const k of keys) diffInto(am.get(k), bm.get(k), `${path}[key=${k}]`, out, depth + 1);
    return;
  }
  if (isPrimitiveArray(a) && isPrimitiveArray(b)) {
    const as = new Set(a.map((x) => JSON.stringify(x)));
    const bs = new Set(b.map((x) => JSON.stringify(x)));
    for (const x of a) if (!bs.has(JSON.stringify(x))) out.push({ path, kind: 'removed', before: x });
    for (const x of b) if (!as.has(JSON.stringify(x))) out.push({ path, kind: 'added', after: x });
    return;
  }
  if (a.length !== b.length && (a.length === 0 || b.length === 0)) {
    out.push({ path, kind: 'changed', before: a, after: b });
    return;
  }
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diffInto(a[i], b[i], `${path}[${i}]`, out, depth + 1);
}
