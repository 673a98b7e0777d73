/**
 * Structural diff of two normalised descriptors (see canonical.ts): the list of changes, each
 * with its JSON path, kind and the values before and after.
 *
 * Paths: `a.b` for object members (`a["odd key"]` when a key is not an identifier),
 * `modules.webPanels[key=panel-1]` for keyed arrays, `scopes` with kind added/removed and the
 * element as after/before for sets of primitives, `[3]` for positional arrays.
 */
import { canonOf, isKeyedArray, isPrimitiveArray, type Json } from './canonical.js';
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

/** Deep equality of two normalised JSON values. */
export function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!(k in b) || !jsonEqual(a[k], b[k])) return false;
  return true;
}

/**
 * Lists the differences between `before` and `after` (both normalised), in path order.
 * `path` is the prefix for every reported path ('' for the document root).
 */
export function diffDocuments(before: Json | undefined, after: Json | undefined, path = ''): DescriptorChange[] {
  const out: DescriptorChange[] = [];
  diffInto(before, after, path, out);
  return out;
}

function diffInto(a: Json | undefined, b: Json | undefined, path: string, out: DescriptorChange[]): void {
  if (a === undefined && b === undefined) return;
  if (a === undefined) {
    out.push({ path, kind: 'added', after: b });
    return;
  }
  if (b === undefined) {
    out.push({ path, kind: 'removed', before: a });
    return;
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && canonOf(a) === canonOf(b)) return;
  if (isObj(a) && isObj(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of [...keys].sort()) diffInto(a[k], b[k], joinPath(path, k), out);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    diffArrays(a, b, path, out);
    return;
  }
  if (!jsonEqual(a, b)) out.push({ path, kind: 'changed', before: a, after: b });
}

function diffArrays(a: Json[], b: Json[], path: string, out: DescriptorChange[]): void {
  const aKeyed = a.length === 0 || isKeyedArray(a);
  const bKeyed = b.length === 0 || isKeyedArray(b);
  if (aKeyed && bKeyed && (a.length > 0 || b.length > 0)) {
    const am = new Map((a as Array<{ key: string } & Json>).map((x) => [x.key, x as Json]));
    const bm = new Map((b as Array<{ key: string } & Json>).map((x) => [x.key, x as Json]));
    const keys = [...new Set([...am.keys(), ...bm.keys()])].sort();
    for (const k of keys) diffInto(am.get(k), bm.get(k), `${path}[key=${k}]`, out);
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
  for (let i = 0; i < n; i++) diffInto(a[i], b[i], `${path}[${i}]`, out);
}
