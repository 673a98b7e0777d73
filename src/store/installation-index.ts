/**
 * The two lookup indexes of installations, bucketed (keys.ts `installationIndexBucket`,
 * `siteIndexBucket`; digests in index-digest.ts):
 * - the global index, installation id → app id (lookup by id: `appsOf`);
 * - the by-site index, `<appId>\n<site>` → that app's installation id on the site (`siteLookup`).
 *
 * Each index is `INDEX_BUCKETS` small hashes that Redis keeps as listpacks; an entry's field is
 * a 64-bit digest of the looked-up string, so entries are hints, checked against the app's
 * installation records on every lookup: an entry naming an app that has no record of the id
 * (a registration that failed half-way, an installation moved away) reads as not found.
 *
 * Two strings with the same digest: the first to be indexed keeps the digest field; the second
 * gets its fallback field (`.` + the full string) in the same bucket, which lookups read first.
 * Whose the digest field is, the registration tells from the records: the entry is the id's own
 * when the app it names has the id's record (by-site: when that app's installation named there
 * is on that site); otherwise the newcomer takes the fallback. One case stays ambiguous: two ids
 * of the same app with the same digest registered in different calls share the digest entry
 * (both resolve: it names their app); if an adoption then moves one of them, the other is not
 * found by id until it is registered again (which gives it its fallback field). With a 64-bit
 * digest this needs ~4 billion ids of one app by chance, or ids crafted by that app's own vendor.
 *
 * Round trips: the entries of a whole batch are handled by scripts over many buckets, as one
 * MessagePack argument each, `ENTRIES_PER_CALL` entries per call. A plan (`planIds`,
 * `planSites`) first tries the fast path, commands/claimIndexEntries.lua: one HSETNX per entry,
 * which writes a call's entries at their digest fields only if all of them are new (a group's
 * buckets holding fallback fields are listed in its marks set, keys.ts `indexFallbackMarks`,
 * so only those are checked for one); the entries of the other calls go the slow path: read
 * (readIndexEntries.lua), checked against the apps' records (hasInstallations-1.lua, one call
 * per app), and written by `write` (writeIndexEntries.lua, which also marks fallback fields).
 * A refused batch deletes what its fast path wrote before the throw (only entries still naming
 * its app; meanwhile they are entries without records, which readers report as not found and a
 * concurrent registration of the same string treats as another's: its fallback field, harmless
 * but for a few bytes). Deletions go through
 * unindexInstallations.lua. A registration of 5,000 new installations sends ~15 commands in all.
 *
 * Redis Cluster: the buckets carry a hash tag per group (keys.ts `installationIndexBucket`,
 * index-digest.ts `INDEX_GROUPS`), so each script call takes the buckets of one group (one
 * slot), and the calls of a step are sent together, each on its own; record checks touch one
 * app's keys (redis-connection.ts `crossSlotPipeline`). Nothing is atomic across groups; the writers' order
 * (index entries first, then the records) keeps that safe, as above.
 */
import { crossSlotPipeline, isCluster } from '../lib/redis-connection.js';
import { execAll } from '../lib/exec-all.js';
import { AppError, ErrorCode } from '../lib/errors.js';
import type { IndexEntry, Keys } from './keys.js';
import { countOf, flagOf, indexEntriesRead, recordsPresent } from './script-results.js';
import type { ScriptedRedis } from './scripts.js';

/**
 * Most entries (or ids) one script call takes. A step's calls are sent at once (not as one
 * pipeline), so Redis runs the first while the client still encodes the next ones, and the
 * client decodes replies while Redis runs the later ones; 1,000 entries (a few milliseconds in
 * Redis) keep that overlap while sending ~0.005 commands per installation registered.
 */
export const ENTRIES_PER_CALL = 1000;

/** One field of a bucket and its value (to write, or expected, to delete). */
export interface BucketWrite {
  key: string;
  field: string;
  value: string;
  /** The bucket's group's fallback marks (keys.ts `indexFallbackMarks`; written with a fallback field). */
  marks: string;
  /** Written already, by the plan's fast path (`write` skips it). */
  written?: true;
}

/** The sites of installations `ids` of `appId` from their records (null where it has none). */
export type SitesOf = (appId: string, ids: readonly string[]) => Promise<(string | null)[]>;

/** Redis access to the two bucketed indexes. */
export class InstallationIndex {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: Keys,
    private readonly sitesOf: SitesOf,
  ) {}

  /**
   * For each id, the apps its entries name (fallback field first, then digest field; distinct),
   * unchecked: callers check each against the app's records (`appsOf`) or read the record.
   */
  async candidates(ids: readonly string[]): Promise<string[][]> {
    const entries = ids.map((id) => this.keys.installationIndexEntry(id));
    const read = await this.readEntries(entries);
    return read.map(([digest, fallback]) => distinct(fallback, digest));
  }

  /**
   * The app of each of `ids`: the first app named by its entries whose record hash
   * (`installationData`) has the id, or null. Two round trips (the buckets, then the records).
   */
  async appsOf(ids: readonly string[]): Promise<(string | null)[]> {
    const cands = await this.candidates(ids);
    const checks: [number, string][] = [];
    cands.forEach((apps, k) => apps.forEach((app) => checks.push([k, app])));
    if (checks.length === 0) return ids.map(() => null);
    const has = await this.hasRecords(checks.map(([k, app]) => ({ app, id: ids[k]! })));
    const out: (string | null)[] = ids.map(() => null);
    checks.forEach(([k, app], j) => {
      if (out[k] === null && has[j]) out[k] = app;
    });
    return out;
  }

  /**
   * The global index entries to write for installations `items` (each to its app), in their
   * order: each at its digest field, or at its fallback field when the digest field is another
   * id's (see the module documentation). The entries of new ids are written already (`claim`,
   * marked `written`); on a conflict they are deleted again before the throw, so nothing of the
   * batch stays written.
   * @throws AppError `input-invalid` when an id is registered to another app: its entry names
   *   another app that has its record, or its fallback entry names another app (as the
   *   unbucketed index refused any entry of another app)
   */
  async planIds(items: readonly { id: string; appId: string }[]): Promise<BucketWrite[]> {
    const { writes, conflicts } = await this.planIdsOrConflicts(items);
    if (conflicts.length > 0) {
      await this.remove(writes.filter((w) => w.written));
      throw new AppError(
        ErrorCode.INPUT_INVALID,
        `installation ${conflicts[0]!.id} is already registered to app ${conflicts[0]!.owner}`,
        { details: { ids: conflicts.slice(0, 20).map((c) => c.id) } },
      );
    }
    return writes;
  }

  /**
   * `planIds` without the throw: the entries of the items without a conflict (in their order),
   * and the conflicts (id and the app already named). New ids' entries are written already.
   */
  async planIdsOrConflicts(
    items: readonly { id: string; appId: string }[],
  ): Promise<{ writes: BucketWrite[]; conflicts: { id: string; owner: string }[] }> {
    const entries = items.map((i) => this.keys.installationIndexEntry(i.id));
    const { written, read } = await this.claim(entries, (k) => items[k]!.appId);
    // Which entries name another app (or this one without its record): checked against records.
    const checks: { k: number; app: string }[] = [];
    items.forEach((item, k) => {
      const [digest, fallback] = read[k]!;
      if (!written[k] && fallback === null && digest !== null) checks.push({ k, app: digest });
    });
    const has = await this.hasRecords(checks.map((c) => ({ app: c.app, id: items[c.k]!.id })));
    const owned = new Map<number, boolean>();
    checks.forEach((c, j) => owned.set(c.k, has[j]!));
    const conflicts: { id: string; owner: string }[] = [];
    const claimed = new Map<string, string>(); // digest field (key + field) → the id given it in this call
    const out = items.map((item, k): BucketWrite | null => {
      const e = entries[k]!;
      const [digest, fallback] = read[k]!;
      if (written[k]) return { key: e.key, field: e.field, value: item.appId, marks: e.marks, written: true };
      if (fallback !== null) {
        // A fallback entry is the id's own: only its app decides.
        if (fallback === item.appId) return entryAt(e, e.fallback, item.appId);
        conflicts.push({ id: item.id, owner: fallback });
        return null;
      }
      if (digest !== null) {
        if (owned.get(k)) {
          if (digest === item.appId) return entryAt(e, e.field, item.appId);
          conflicts.push({ id: item.id, owner: digest });
          return null;
        }
        // Another id's entry, or this id's from a registration that failed half-way: the
        // fallback field is right either way (lookups read it first).
        return entryAt(e, e.fallback, item.appId);
      }
      const slot = `${e.key}\n${e.field}`;
      const first = claimed.get(slot);
      if (first !== undefined && first !== item.id) return entryAt(e, e.fallback, item.appId);
      claimed.set(slot, item.id);
      return entryAt(e, e.field, item.appId);
    });
    return { writes: out.filter((w) => w !== null), conflicts };
  }

  /**
   * The by-site entries to write for installations `items` (`id` of `appId` on `site`): each at
   * its digest field, unless that names an installation of another (app, site) pair (then at its
   * fallback field). The entries of new (app, site) pairs are written already (`claim`, marked
   * `written`).
   */
  async planSites(items: readonly { appId: string; site: string; id: string }[]): Promise<BucketWrite[]> {
    const entries = items.map((i) => this.keys.siteIndexEntry(i.appId, i.site));
    const { written, read } = await this.claim(entries, (k) => items[k]!.id);
    // A digest entry naming another installation: the same pair (a new installation on the
    // site replaces it) when that installation's record in this app is on this site.
    const checks: number[] = [];
    items.forEach((item, k) => {
      const [digest, fallback] = read[k]!;
      if (!written[k] && fallback === null && digest !== null && digest !== item.id) checks.push(k);
    });
    const samePair = new Set<number>();
    const byApp = new Map<string, number[]>();
    for (const k of checks) push(byApp, items[k]!.appId, k);
    await Promise.all(
      [...byApp].map(async ([appId, ks]) => {
        const sites = await this.sitesOf(
          appId,
          ks.map((k) => read[k]![0]!),
        );
        ks.forEach((k, j) => sites[j] === items[k]!.site && samePair.add(k));
      }),
    );
    const claimed = new Map<string, string>(); // digest field → the pair given it in this call
    return items.map((item, k): BucketWrite => {
      const e = entries[k]!;
      const [digest, fallback] = read[k]!;
      if (written[k]) return { key: e.key, field: e.field, value: item.id, marks: e.marks, written: true };
      if (fallback !== null) return entryAt(e, e.fallback, item.id);
      if (digest !== null && digest !== item.id && !samePair.has(k)) return entryAt(e, e.fallback, item.id);
      const slot = `${e.key}\n${e.field}`;
      const pair = `${item.appId}\n${item.site}`;
      const first = claimed.get(slot);
      if (first !== undefined && first !== pair) return entryAt(e, e.fallback, item.id);
      claimed.set(slot, pair);
      return entryAt(e, e.field, item.id);
    });
  }

  /**
   * The id of `appId`'s installation on `site`, or null: the installations its entries name
   * (fallback field first), the first whose record in `appId` is on `site`. Two round trips.
   */
  async siteLookup(appId: string, site: string): Promise<string | null> {
    const e = this.keys.siteIndexEntry(appId, site);
    const [digest, fallback] = await this.redis.hmget(e.key, e.field, e.fallback);
    const ids = distinct(fallback ?? null, digest ?? null);
    if (ids.length === 0) return null;
    const sites = await this.sitesOf(appId, ids);
    const k = sites.findIndex((s) => s === site);
    return k < 0 ? null : ids[k]!;
  }

  /** Writes `entries` (commands/writeIndexEntries.lua: one call per group on a cluster, per `ENTRIES_PER_CALL` on one server). */
  async write(all: readonly BucketWrite[]): Promise<void> {
    const entries = all.filter((e) => !e.written);
    if (entries.length === 0) return;
    await settleAll(
      this.calls(entries).map((ks) => {
        const call = new ScriptCall();
        for (const k of ks) {
          const e = entries[k]!;
          const fallback = e.field.startsWith('.');
          call.items.push(call.key(e.key), fallback ? call.key(e.marks) : 0, e.field, e.value);
        }
        return this.redis.mpuWriteIndexEntries(...call.args());
      }),
    );
  }

  /**
   * Deletes each of `entries` whose field still holds its `value` (commands/unindexInstallations.lua,
   * one call per group on a cluster, per `ENTRIES_PER_CALL` on one server). @returns how many were deleted
   */
  async remove(entries: readonly BucketWrite[]): Promise<number> {
    if (entries.length === 0) return 0;
    const replies = await settleAll(
      this.calls(entries).map((ks) => {
        const call = new ScriptCall();
        for (const k of ks) call.items.push(call.key(entries[k]!.key), entries[k]!.field, entries[k]!.value);
        return this.redis.mpuUnindexInstallations(...call.args());
      }),
    );
    return replies.reduce<number>((n, r) => n + countOf('unindexInstallations', r), 0);
  }

  /** The global entries (both fields) of `ids` that name `appId`, as `remove` takes them. */
  idEntries(appId: string, ids: readonly string[]): BucketWrite[] {
    return ids.flatMap((id) => {
      const e = this.keys.installationIndexEntry(id);
      return [
        { key: e.key, field: e.field, value: appId, marks: e.marks },
        { key: e.key, field: e.fallback, value: appId, marks: e.marks },
      ];
    });
  }

  /** The by-site entries (both fields) of `appId`'s installations `items` on their sites, as `remove` takes them. */
  siteEntries(appId: string, items: readonly { id: string; site: string }[]): BucketWrite[] {
    return items.flatMap(({ id, site }) => {
      const e = this.keys.siteIndexEntry(appId, site);
      return [
        { key: e.key, field: e.field, value: id, marks: e.marks },
        { key: e.key, field: e.fallback, value: id, marks: e.marks },
      ];
    });
  }

  /**
   * The global entries that make `ids` name `appId` (adoption): each id's fallback entry when it
   * has one, else its digest entry. Reads only.
   */
  async moveIds(appId: string, ids: readonly string[]): Promise<BucketWrite[]> {
    const entries = ids.map((id) => this.keys.installationIndexEntry(id));
    const read = await this.readEntries(entries);
    return entries.map((e, k) => ({
      key: e.key,
      field: read[k]![1] !== null ? e.fallback : e.field,
      value: appId,
      marks: e.marks,
    }));
  }

  /** Whether each app's record hash has the id (commands/hasInstallations-1.lua, one call per app and `ENTRIES_PER_CALL` ids). */
  private async hasRecords(pairs: readonly { app: string; id: string }[]): Promise<boolean[]> {
    if (pairs.length === 0) return [];
    const byApp = new Map<string, number[]>();
    pairs.forEach((p, j) => push(byApp, p.app, j));
    const calls = [...byApp].flatMap(([app, js]) => chunks(js).map((part) => ({ app, part })));
    const pipe = crossSlotPipeline(this.redis);
    for (const { app, part } of calls)
      (pipe as unknown as ScriptedRedis).mpuHasInstallations(
        this.keys.installationData(app),
        ...part.map((j) => pairs[j]!.id),
      );
    const replies = await execAll<unknown>(pipe);
    const out: boolean[] = new Array(pairs.length);
    calls.forEach(({ part }, c) => {
      const has = recordsPresent(replies[c], part.length);
      part.forEach((j, i) => (out[j] = has[i]!));
    });
    return out;
  }

  /**
   * The fast path of a plan (commands/claimIndexEntries.lua): each call whose entries are all
   * new (digest field free, no fallback field) writes them at their digest fields (value
   * `valueOf(k)`), in one pass; the entries of the other calls are read (`readEntries`) for the
   * slow path. Entries sharing a digest field within the batch (a shared digest, or one string
   * twice) go the slow path, whose in-batch bookkeeping decides between them.
   * @returns `written[k]`, and `read[k]` for the entries not written ([null, null] for the others)
   */
  private async claim(
    entries: readonly IndexEntry[],
    valueOf: (k: number) => string,
  ): Promise<{ written: boolean[]; read: [string | null, string | null][] }> {
    const written: boolean[] = new Array(entries.length).fill(false);
    // Entries sharing a digest field (whatever their buckets: rarer still) go the slow path.
    const first = new Map<string, number>(); // digest field → first entry with it
    const shared = new Set<number>();
    for (let k = 0; k < entries.length; k++) {
      const j = first.get(entries[k]!.field);
      if (j === undefined) first.set(entries[k]!.field, k);
      else shared.add(j).add(k);
    }
    const fast: number[] = [];
    for (let k = 0; k < entries.length; k++) if (!shared.has(k)) fast.push(k);
    const calls = this.calls(fast.map((k) => entries[k]!));
    const replies = await settleAll(
      calls.map((js) => {
        const call = new ScriptCall();
        for (const j of js) {
          const k = fast[j]!;
          const e = entries[k]!;
          call.items.push(call.key(e.key), call.key(e.marks), e.field, e.fallback, valueOf(k));
        }
        return this.redis.mpuClaimIndexEntries(...call.args());
      }),
    );
    calls.forEach((js, c) => {
      if (flagOf('claimIndexEntries', replies[c])) for (const j of js) written[fast[j]!] = true;
    });
    const slow: number[] = [];
    for (let k = 0; k < entries.length; k++) if (!written[k]) slow.push(k);
    const read: [string | null, string | null][] = new Array(entries.length).fill(NOTHING);
    if (slow.length > 0) {
      const slowRead = await this.readEntries(slow.map((k) => entries[k]!));
      slow.forEach((k, i) => (read[k] = slowRead[i]!));
    }
    return { written, read };
  }

  /** [digest field value, fallback field value] of each entry (commands/readIndexEntries.lua, calls as `write`'s). */
  private async readEntries(entries: readonly IndexEntry[]): Promise<[string | null, string | null][]> {
    if (entries.length === 0) return [];
    const calls = this.calls(entries);
    const replies = await settleAll(
      calls.map((ks) => {
        const call = new ScriptCall();
        for (const k of ks) call.items.push(call.key(entries[k]!.key), entries[k]!.field, entries[k]!.fallback);
        return this.redis.mpuReadIndexEntries(...call.args());
      }),
    );
    const out: [string | null, string | null][] = new Array(entries.length);
    calls.forEach((ks, c) => {
      const read = indexEntriesRead(replies[c], ks.length);
      ks.forEach((k, i) => (out[k] = read[i]!));
    });
    return out;
  }

  /**
   * The script calls for `entries` (positions of the entries each call takes): on a cluster one
   * call per hash tag of their bucket keys (one slot each), on one server calls for any buckets;
   * at most `ENTRIES_PER_CALL` entries each either way.
   */
  private calls(entries: readonly { key: string }[]): number[][] {
    const cluster = isCluster(this.redis);
    const groups = new Map<string, number[]>();
    entries.forEach((e, k) => push(groups, cluster ? hashTag(e.key) : '', k));
    return [...groups.values()].flatMap(chunks);
  }
}

/** The write of `value` at `field` (digest or fallback) of entry `e`'s bucket. */
function entryAt(e: IndexEntry, field: string, value: string): BucketWrite {
  return { key: e.key, field, value, marks: e.marks };
}

/** An entry with neither field (shared, never modified). */
const NOTHING: [null, null] = [null, null];

/**
 * numkeys, KEYS and ARGV of one call of the variadic index scripts: `key` numbers each distinct
 * key (1-based, its place in KEYS), `items` are the script's tuples, sent as one packed argument
 * (`packItems`).
 */
class ScriptCall {
  readonly keys: string[] = [];
  readonly items: (string | number)[] = [];
  private readonly numbers = new Map<string, number>();

  key(k: string): number {
    let n = this.numbers.get(k);
    if (n === undefined) {
      this.keys.push(k);
      this.numbers.set(k, (n = this.keys.length));
    }
    return n;
  }

  args(): [number, ...(string | Buffer)[]] {
    return [this.keys.length, ...this.keys, packItems(this.items)];
  }
}

/**
 * A MessagePack array of non-negative integers (< 2^32) and strings, as the index scripts
 * unpack it (`cmsgpack.unpack`, built into Redis's Lua): one argument instead of three per
 * entry, which saves most of the client's encoding and the server's argument parsing.
 */
export function packItems(items: readonly (number | string)[]): Buffer {
  let size = 5;
  const lengths = new Array<number>(items.length);
  for (let i = 0; i < items.length; i++) {
    const v = items[i]!;
    if (typeof v === 'number') size += v < 128 ? 1 : v < 65536 ? 3 : 5;
    else {
      const n = Buffer.byteLength(v);
      lengths[i] = n;
      size += n + (n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5);
    }
  }
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 0xdd; // array 32
  buf.writeUInt32BE(items.length, 1);
  let o = 5;
  for (let i = 0; i < items.length; i++) {
    const v = items[i]!;
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`packItems: ${v} is not a uint32`);
      if (v < 128)
        buf[o++] = v; // positive fixint
      else if (v < 65536) {
        buf[o++] = 0xcd; // uint 16
        buf.writeUInt16BE(v, o);
        o += 2;
      } else {
        buf[o++] = 0xce; // uint 32
        buf.writeUInt32BE(v, o);
        o += 4;
      }
      continue;
    }
    const n = lengths[i]!;
    if (n < 32)
      buf[o++] = 0xa0 | n; // fixstr
    else if (n < 256) {
      buf[o++] = 0xd9; // str 8
      buf[o++] = n;
    } else if (n < 65536) {
      buf[o++] = 0xda; // str 16
      buf.writeUInt16BE(n, o);
      o += 2;
    } else {
      buf[o++] = 0xdb; // str 32
      buf.writeUInt32BE(n, o);
      o += 4;
    }
    o += buf.write(v, o, 'utf8');
  }
  return buf;
}

/**
 * The results of `calls` (sent already, all at once), in order; when any failed, the first
 * failure is thrown once all have settled (none is left running behind the caller's back).
 */
async function settleAll<T>(calls: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(calls);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

/** The part of `key` Redis Cluster hashes: the text of its first `{…}` when not empty, else the whole key. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

function chunks<T>(l: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < l.length; i += ENTRIES_PER_CALL) out.push(l.slice(i, i + ENTRIES_PER_CALL));
  return out;
}

function distinct(a: string | null, b: string | null): string[] {
  const out: string[] = [];
  if (a !== null) out.push(a);
  if (b !== null && b !== a) out.push(b);
  return out;
}

function push<K, V>(m: Map<K, V[]>, k: K, ...v: V[]): void {
  const l = m.get(k);
  if (l) l.push(...v);
  else m.set(k, v);
}
