/**
 * Where an entry of the two bucketed lookup indexes lives (keys.ts `installationIndexBucket`,
 * `siteIndexBucket`): a stable 64-bit hash of the looked-up string (an installation id, or
 * `<appId>\n<site>`) gives both the bucket (which small hash) and the field (an 11-character
 * base64url text of the 64 bits), so an entry costs a few bytes of a listpack instead of a hash
 * table entry of the full id (~56 bytes of structure each). Pure.
 *
 * The hash is part of the stored layout: changing it (or `INDEX_BUCKETS`) moves every entry,
 * which needs a re-index (src/store/migrations/indexes.ts shows how). It is computed over the
 * string's UTF-16 code units (`charCodeAt`), two 32-bit multiply-xor lanes mixed together at the
 * end (the cyrb53 construction, kept at 64 bits): not cryptographic, so two strings can share a
 * digest, by chance (about n²/2^65 for n strings) or on purpose; the index handles a shared
 * digest with a fallback field that holds the full string (`fallbackField`, see
 * installation-index.ts).
 */

/**
 * Buckets per index. Redis keeps a hash as a listpack (about 13 + the value's length bytes per
 * entry here) while it has at most `hash-max-listpack-entries` entries (512 by default since
 * Redis 7.0, Redis docs "Memory optimization"; 128 is the sorted sets' limit) of at most
 * `hash-max-listpack-value` bytes (64). 32,768 buckets keep them listpacks up to about 14M
 * entries per index with the default, and about 2.8M with a server set to 128 (the fullest
 * bucket is a few standard deviations above the mean); fewer buckets cost less per key at small
 * sizes (measured in docs/scaling.md, proposal 1). Beyond that the fullest buckets turn into hash
 * tables one by one: still correct, with the old per-entry cost. An operator then raises
 * `hash-max-listpack-entries` (no re-index; a bucket converted to a hash table stays one until it
 * is rewritten) or the bucket count (a re-index). Values longer than `hash-max-listpack-value`
 * (an installation id or app id over 64 bytes) turn their bucket into a hash table too.
 */
export const INDEX_BUCKETS = 32_768;

/**
 * Hash-tag groups of buckets: bucket b's key carries the hash tag `{ix:<b mod INDEX_GROUPS>}`
 * (keys.ts `installationIndexBucket`, `siteIndexBucket`; both indexes' buckets of a group share
 * it), so on a Redis Cluster the buckets of one group lie in one slot and one script call reads or
 * writes every entry of a registration batch that falls in it (installation-index.ts). 256: a
 * batch of a few thousand installations touches every group, so a cluster gets at most 256 calls
 * per step of a batch (0.05 per installation for 5,000), while 256 slots still spread the
 * indexes (~7 MB each at a million installations) over dozens of masters. A server that is not a
 * cluster gets calls over any groups (installation-index.ts `ENTRIES_PER_CALL` entries each).
 * Part of the key names: changing it renames every bucket.
 */
export const INDEX_GROUPS = 256;

/** Bucket and field of one looked-up string. */
export interface IndexDigest {
  /** 0 … INDEX_BUCKETS-1. */
  bucket: number;
  /** 11 characters of base64url (never contains `.`, unlike a fallback field). */
  field: string;
}

/** The stable 64-bit hash of `s` as two unsigned 32-bit halves. Pure. */
export function hash64(s: string): [number, number] {
  let h1 = 0xdeadbeef ^ 0x9e3779b9;
  let h2 = 0x41c6ce57 ^ 0x85ebca6b;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h1 >>> 0, h2 >>> 0];
}

/** The 8 bytes `indexDigest` encodes (reused: one call at a time, synchronous). */
const scratch = Buffer.alloc(8);

/** The default digest: bucket = the low bits of the second half, field = base64url of all 64 bits. Pure. */
export function indexDigest(s: string): IndexDigest {
  const [a, b] = hash64(s);
  scratch.writeUInt32BE(a, 0);
  scratch.writeUInt32BE(b, 4);
  return { bucket: b % INDEX_BUCKETS, field: scratch.toString('base64url') };
}

/**
 * The field that holds `s` itself, used when `s`'s digest field is taken by another string:
 * `.` + `s` (a digest field never contains `.`).
 */
export function fallbackField(s: string): string {
  return `.${s}`;
}
