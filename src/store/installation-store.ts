/**
 * Redis store of installations. Compact: one app's installations live in a few hashes
 * keyed by installation id (layout in keys.ts), read and written in batches (pipelines, Lua over
 * thousands of ids per call) so a million installations plan and upgrade in seconds.
 *
 * An installation is one field of the app's data hash, `<version>\x1f<record JSON>\x1f<history>`
 * (installation-record.ts): its version is the compare-and-set target (`compareAndSetVersions`
 * moves an installation only from the version the caller read, so concurrent or redelivered
 * batches never upgrade one twice), and each move is appended to its history with the time. The
 * history (which version it ran when, DESIGN.md "Rollout rules") is `;`-separated entries, in
 * the format of src/rollout/installation-history.ts.
 *
 * The scripts are commands/*.lua (registerInstallations-5, ackRegistrations-1,
 * compareAndSetVersions-3, upgradeRange-5, readPlanChunk-3, approveInstallation-2,
 * markUpdateAvailable-2, releaseAdoptions-8, receiveAdoptions-6), loaded by scripts.ts.
 *
 * Each app also keeps the set of its installations whose record has maintenance windows
 * (keys.ts `installationWindowed`, `windowedCount`): the scripts that write or remove a record
 * JSON (registration, both sides of an adoption) update it in the same atomic step; the others
 * rewrite only a record's version or history and leave it alone.
 */
import type { RedisConnection } from '../lib/redis-connection.js';
import semver from 'semver';
import { AppError, ErrorCode } from '../lib/errors.js';
import type { Installation, MaintenanceWindows } from '../rollout/types.js';
import type { PlanInput } from '../rollout/plan-rollout.js';
import type { LateInput } from '../rollout/plan-late.js';
import {
  encodeHistory,
  encodeHistoryEntry,
  parseHistory,
  UPGRADE_CAUSE_CODE,
  type HistoryEntry,
  type UpgradeCause,
} from '../rollout/installation-history.js';
import { execAll } from '../lib/exec-all.js';
import { assertNoSeparator, RECORD_SEPARATOR, recordJson, recordVersion, splitRecord } from './installation-record.js';
import type { Keys } from './keys.js';
import {
  adoptionsReleased,
  countOf,
  flagOf,
  movesApplied,
  rangeUpgraded,
  sparseColumnsOf,
  type AdoptionReply,
} from './script-results.js';
import { defineScripts, type ScriptedRedis } from './scripts.js';
import { InstallationIndex } from './installation-index.js';

export { parseHistory, type HistoryEntry } from '../rollout/installation-history.js';

/** An installation with its rollout state. */
export interface InstallationView extends Installation {
  approvedUpTo: string | null;
  /** Newest version shown as "update available", or null. */
  updateAvailable: string | null;
  history: HistoryEntry[];
}

/**
 * One move of a Connect installation to the Forge app adopting its Connect app, from the Connect
 * version the caller judged (`expected`), automatically or by its admins' approval.
 */
export interface AdoptionMove {
  id: string;
  expected: string;
  cause: UpgradeCause;
}

export type { AdoptionReply } from './script-results.js';

/**
 * What `upgradeRange` did: ids read, installations moved (of which deferred by a window), the
 * moves per target version, and the installations whose version was not in its map.
 */
export interface RangeUpgrade {
  considered: number;
  moved: number;
  deferred: number;
  targets: Map<string, number>;
  unknown: string[];
}

/** One compare-and-set move: from `expected` (what the caller read) to `target`. */
export interface VersionMove {
  id: string;
  expected: string;
  target: string;
  cause: UpgradeCause;
}

interface StoredRecord {
  s: string;
  p: string[];
  c: number;
  m: MaintenanceWindows | null;
  /** Admins' addresses, when given (absent in records stored before they were kept). */
  a?: string[];
}

/**
 * One registration call the late planner has not handled yet: installations at positions
 * `start … end` (inclusive) of the app's registration list, registered at `at` (epoch ms).
 * `entry` is the raw log entry (`ackRegistrations` compares it).
 */
export interface PendingRegistration {
  start: number;
  end: number;
  at: number;
  entry: string;
}

/** The planner's view of installations read by position; `read` counts the positions read (ids without a record are skipped). */
export interface PlanChunk<T extends PlanInput = PlanInput> {
  read: number;
  inputs: T[];
}

function encode(inst: Installation): string {
  const r: StoredRecord = { s: inst.site, p: inst.products, c: inst.checkOffsetMs, m: inst.maintenance };
  if (inst.admins && inst.admins.length > 0) r.a = inst.admins;
  return JSON.stringify(r);
}

/**
 * The planner's fields of a stored record (check offset and windows), without parsing the site
 * and products: a record written by `encode` ends with `,"c":<integer>,"m":null}` when it has no
 * windows, read here without JSON.parse (on the plan's hot path, a million records per plan);
 * any other record is parsed whole.
 */
export function decodePlanFields(json: string): Pick<StoredRecord, 'c' | 'm'> {
  if (json.endsWith(NO_WINDOWS)) {
    const at = json.lastIndexOf(CHECK_FIELD, json.length - NO_WINDOWS.length);
    const c = at < 0 ? NaN : Number(json.slice(at + CHECK_FIELD.length, json.length - NO_WINDOWS.length));
    if (Number.isInteger(c)) return { c, m: null };
  }
  const r = JSON.parse(json) as StoredRecord;
  return { c: r.c, m: r.m };
}

const NO_WINDOWS = ',"m":null}';
const CHECK_FIELD = ',"c":';

/** The site in a stored value (`<version>\x1f<JSON>\x1f<history>`), or null when it has no record. */
function siteOf(value: string | null | undefined): string | null {
  const json = recordJson(value);
  return json === null ? null : (JSON.parse(json) as StoredRecord).s;
}

function decode(appId: string, id: string, json: string, version: string): Installation {
  const r = JSON.parse(json) as StoredRecord;
  return {
    id,
    appId,
    site: r.s,
    products: r.p,
    version,
    checkOffsetMs: r.c,
    maintenance: r.m,
    ...(r.a ? { admins: r.a } : {}),
  };
}

/** Redis installation store. Methods throw AppError `store-unavailable` only via the caller's connection errors. */
export class InstallationStore {
  private readonly redis: ScriptedRedis;
  private readonly index: InstallationIndex;
  constructor(
    redis: RedisConnection,
    readonly keys: Keys,
  ) {
    this.redis = defineScripts(redis);
    this.index = new InstallationIndex(this.redis, keys, (appId, ids) => this.readSites(appId, ids));
  }

  /**
   * Registers a batch (upsert): new installations are stored with their version; known ones get
   * their site, products, check time and windows updated but keep the version the store has (it
   * only moves forward through upgrades). Batches of any size are split into Lua calls of 2,000;
   * each call appends its new installations' positions to the app's registration log
   * (`pendingRegistrations`) in the same atomic step, for the late planner.
   * @param at registration time, epoch ms (history; the late planner's window starts here)
   * @returns how many were new
   * @throws AppError `input-invalid` when an id is already registered to another app (nothing of
   *   that batch is written)
   */
  async register(batch: readonly Installation[], at: number): Promise<{ created: number; updated: number }> {
    if (batch.length === 0) return { created: 0, updated: 0 };
    // Both indexes' entries are planned before any record is written: new entries are claimed
    // (written) by the planning itself, and a refused batch takes its claimed entries back before
    // it throws, so nothing of it stays. Index entries before records: see the module docs.
    const idEntries = await this.index.planIds(batch);
    const siteEntries = await this.index.planSites(batch);
    let created = 0;
    const byApp = new Map<string, number[]>();
    batch.forEach((inst, k) => {
      let l = byApp.get(inst.appId);
      if (!l) byApp.set(inst.appId, (l = []));
      l.push(k);
    });
    for (const [appId, list] of byApp) {
      for (let i = 0; i < list.length; i += 2000) {
        const slice = list.slice(i, i + 2000);
        const triples: string[] = [];
        for (const k of slice) {
          const inst = batch[k]!;
          assertNoSeparator(inst.version, 'version');
          triples.push(inst.id, encode(inst), inst.version);
        }
        // The index entries first (buckets of their own slots), then the app's keys: a failure
        // between the two leaves entries without a record, which readers report as not found
        // and the same registration, retried, completes (the conflict check passes: same app).
        await this.index.write(slice.flatMap((k) => [idEntries[k]!, siteEntries[k]!]));
        const reply = await this.redis.mpuRegisterInstallations(
          this.keys.installationIds(appId),
          this.keys.installationData(appId),
          this.keys.versionDistribution(appId),
          this.keys.installationLog(appId),
          this.keys.installationWindowed(appId),
          at,
          ...triples,
        );
        created += countOf('registerInstallations', reply);
      }
    }
    return { created, updated: batch.length - created };
  }

  /**
   * The id of `appId`'s installation on `site` (the latest registered there), or null when it has
   * none: the by-site index (keys.ts `siteIndexBucket`) checked against the installation's
   * record in `appId`, so an entry left by an installation that moved to another app, or whose
   * site changed, answers null.
   */
  onSite(appId: string, site: string): Promise<string | null> {
    return this.index.siteLookup(appId, site);
  }

  /**
   * The indexes' side of installations `ids` moving from `fromAppId` to `toAppId` (adoption,
   * after the receive; the registration did not index them for `toAppId`): `fromAppId`'s by-site
   * entries of them deleted (only where they still name them; first, as with a shared digest the
   * entry may be the one `toAppId`'s takes), then `toAppId`'s by-site entries (of the ids with a
   * record in `toAppId`), then the global entries named `toAppId`.
   */
  async moveIndexed(fromAppId: string, toAppId: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const sites = await this.readSites(toAppId, ids);
    const items = ids.flatMap((id, k) => (sites[k] ? [{ id, site: sites[k] }] : []));
    await this.index.remove(this.index.siteEntries(fromAppId, items));
    await this.index.write(await this.index.planSites(items.map(({ id, site }) => ({ appId: toAppId, site, id }))));
    await this.index.write(await this.index.moveIds(toAppId, ids));
  }

  /**
   * Deletes the by-site entries of `appId`'s installations `ids` that still name them (app
   * removal), on the sites their records name: so while the records exist.
   * @returns how many entries were deleted
   */
  async unindexSites(appId: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const sites = await this.readSites(appId, ids);
    const items = ids.flatMap((id, k) => (sites[k] ? [{ id, site: sites[k] }] : []));
    return this.index.remove(this.index.siteEntries(appId, items));
  }

  /**
   * Deletes the global index entries of `ids` that still name `appId` (app removal).
   * @returns how many entries were deleted
   */
  unindexIds(appId: string, ids: readonly string[]): Promise<number> {
    return this.index.remove(this.index.idEntries(appId, ids));
  }

  /** App of an installation (the global index checked against the app's records), or null when unknown. */
  async appOf(id: string): Promise<string | null> {
    return (await this.index.appsOf([id]))[0]!;
  }

  /**
   * How many installations of `appId` have maintenance windows (their record's windows are not
   * null, installation-record.ts "Windows"): the SCARD of its windowed set (keys.ts
   * `installationWindowed`), one O(1) command whatever the number of installations; 0 for an
   * unknown app. The set is kept by registration (registerInstallations-5.lua), adoption (the
   * Connect app's releaseAdoptions-8.lua, the Forge app's receiveAdoptions-6.lua) and app
   * removal (app-remover.ts), and built for older stores by the layout-4 migration
   * (migrations/windowed.ts).
   */
  windowedCount(appId: string): Promise<number> {
    return this.redis.scard(this.keys.installationWindowed(appId));
  }

  /**
   * The ids of `appId`'s installations with maintenance windows (see `windowedCount`), in no
   * particular order; one SMEMBERS, so meant for apps where `windowedCount` is small (tests,
   * operators), not for iterating a large set.
   */
  windowedIds(appId: string): Promise<string[]> {
    return this.redis.smembers(this.keys.installationWindowed(appId));
  }

  /** Number of installations of `appId` (= the length of its registration list, which only grows). */
  count(appId: string): Promise<number> {
    return this.redis.llen(this.keys.installationIds(appId));
  }

  /**
   * One installation with approvals, "update available" and history.
   * @throws AppError `installation-not-found`
   */
  async get(id: string): Promise<InstallationView> {
    const appId = await this.appOf(id);
    if (!appId)
      throw new AppError(
        ErrorCode.INSTALLATION_NOT_FOUND,
        `no installation '${id}' (register it with POST /installations or 'mpu installations import')`,
      );
    const [value, approved, available] = await execAll<string | null>(
      this.redis
        .pipeline()
        .hget(this.keys.installationData(appId), id)
        .hget(this.keys.installationApproved(appId), id)
        .hget(this.keys.installationAvailable(appId), id),
    );
    const rec = splitRecord(value);
    if (!rec)
      throw new AppError(
        ErrorCode.INSTALLATION_NOT_FOUND,
        `installation '${id}' is indexed but has no record in app ${appId}`,
      );
    return {
      ...decode(appId, id, rec.json, rec.version),
      approvedUpTo: approved ?? null,
      updateAvailable: available ?? null,
      history: parseHistory(rec.history || null),
    };
  }

  /** Installations `offset … offset+limit-1` of an app in registration order (without history). */
  async list(appId: string, offset: number, limit: number): Promise<Installation[]> {
    const ids = await this.redis.lrange(this.keys.installationIds(appId), offset, offset + limit - 1);
    if (ids.length === 0) return [];
    const data = await this.redis.hmget(this.keys.installationData(appId), ...ids);
    return ids.flatMap((id, k) => {
      const rec = splitRecord(data[k]);
      return rec ? [decode(appId, id, rec.json, rec.version)] : [];
    });
  }

  /** Ids `start … end` (inclusive) of a Redis list (a plan bucket or the installation list). */
  listRange(key: string, start: number, end: number): Promise<string[]> {
    return this.redis.lrange(key, start, end);
  }

  /** The planner's view of installations `start … start+count-1` (one Lua call). */
  async readPlanChunk(appId: string, start: number, count: number): Promise<PlanInput[]> {
    return (await this.readChunk(appId, start, count)).inputs;
  }

  /**
   * The planner's view of installations `start … start+count-1` with their positions, and how
   * many positions were read (one Lua call, readPlanChunk-3.lua, which leaves the histories in
   * Redis): a cursor advances by `read`, so an id without a record can never stall it.
   */
  async readChunk(appId: string, start: number, count: number): Promise<PlanChunk<PlanInput & { position: number }>> {
    if (count <= 0) return { read: 0, inputs: [] };
    const reply = await this.redis.mpuReadPlanChunk(
      this.keys.installationIds(appId),
      this.keys.installationData(appId),
      this.keys.installationApproved(appId),
      start,
      start + count - 1,
    );
    const [ids, data, approved] = sparseColumnsOf<[string[], (string | null)[], (string | null)[]]>(
      'readPlanChunk',
      reply,
      3,
    );
    const out: (PlanInput & { position: number })[] = [];
    for (let k = 0; k < ids.length; k++) {
      // `<version>\x1f<record JSON>` (the script cut the history off).
      const pair = data[k];
      const sep = pair ? pair.indexOf(RECORD_SEPARATOR) : -1;
      if (sep <= 0) continue;
      const r = decodePlanFields(pair!.slice(sep + 1));
      out.push({
        id: ids[k]!,
        version: pair!.slice(0, sep),
        checkOffsetMs: r.c,
        maintenance: r.m,
        approvedUpTo: approved[k] || null,
        position: start + k,
      });
    }
    return { read: ids.length, inputs: out };
  }

  /**
   * What the late planner's rule (rollout/plan-late.ts `LateInput`) needs of installations
   * `start … start+count-1` of the app's registration list, with their registration time
   * (`knownAt`, epoch ms: the `registered` entry that starts each history, the same time the
   * registration log recorded). Reads whole records (two round trips): for the reconciliation
   * sweep's late installations, which are few. Ids without a record or without a `registered`
   * entry are skipped; `read` counts the positions read, so a cursor advancing by it never stalls.
   */
  async readLateInputs(appId: string, start: number, count: number): Promise<PlanChunk<LateInput>> {
    if (count <= 0) return { read: 0, inputs: [] };
    const ids = await this.redis.lrange(this.keys.installationIds(appId), start, start + count - 1);
    if (ids.length === 0) return { read: 0, inputs: [] };
    const [data = [], approved = []] = await execAll<(string | null)[]>(
      this.redis
        .pipeline()
        .hmget(this.keys.installationData(appId), ...ids)
        .hmget(this.keys.installationApproved(appId), ...ids),
    );
    const out: LateInput[] = [];
    ids.forEach((id, k) => {
      const rec = splitRecord(data[k]);
      if (!rec) return;
      const registered = parseHistory(rec.history || null).find((e) => e.kind === 'registered');
      if (!registered) return;
      const r = decodePlanFields(rec.json);
      out.push({
        id,
        version: rec.version,
        checkOffsetMs: r.c,
        maintenance: r.m,
        approvedUpTo: approved[k] || null,
        position: start + k,
        knownAt: registered.at,
      });
    });
    return { read: ids.length, inputs: out };
  }

  /**
   * The first `max` registrations not yet handed to the late planner, oldest first (see
   * `PendingRegistration`); malformed entries are returned with `end < start` so they are
   * acknowledged and skipped.
   */
  async pendingRegistrations(appId: string, max: number): Promise<PendingRegistration[]> {
    const raw = await this.redis.lrange(this.keys.installationLog(appId), 0, max - 1);
    return raw.map((entry) => {
      const [start, end, at] = entry.split('|').map(Number);
      return Number.isInteger(start) && Number.isInteger(end) && Number.isFinite(at)
        ? { start: start!, end: end!, at: at!, entry }
        : { start: 0, end: -1, at: 0, entry };
    });
  }

  /**
   * Drops the first `count` pending registrations once they are planned, if `first` (the entry
   * the caller read first) is still first.
   * @returns false when another late planner dropped them already
   */
  async ackRegistrations(appId: string, first: string, count: number): Promise<boolean> {
    const reply = await this.redis.mpuAckRegistrations(this.keys.installationLog(appId), first, count);
    return flagOf('ackRegistrations', reply);
  }

  /** Current versions and approvals of `ids` (null version for unknown ids). */
  async readStates(
    appId: string,
    ids: readonly string[],
  ): Promise<{ versions: (string | null)[]; approved: (string | null)[] }> {
    if (ids.length === 0) return { versions: [], approved: [] };
    const [data = [], approved = []] = await execAll<(string | null)[]>(
      this.redis
        .pipeline()
        .hmget(this.keys.installationData(appId), ...ids)
        .hmget(this.keys.installationApproved(appId), ...ids),
    );
    return { versions: data.map(recordVersion), approved };
  }

  /**
   * Ids `start … stop` of the list at `listKey` (a plan bucket) with their current versions and
   * approvals (null where absent), in two round trips: the ids with whether the app has any
   * approval, then their records (and approvals, when it has). The upgrade batch's slow path
   * (its fast path is `upgradeRange`); the read needs no atomicity: the compare-and-set that
   * follows checks each version again.
   */
  async readRangeStates(
    appId: string,
    listKey: string,
    start: number,
    stop: number,
  ): Promise<{ ids: string[]; versions: (string | null)[]; approved: (string | null)[] }> {
    const [ids = [], anyApproval = 0] = await execAll<string[] | number>(
      this.redis.pipeline().lrange(listKey, start, stop).exists(this.keys.installationApproved(appId)),
    );
    if (!Array.isArray(ids) || ids.length === 0) return { ids: [], versions: [], approved: [] };
    if (anyApproval === 0) {
      const data = await this.redis.hmget(this.keys.installationData(appId), ...ids);
      return { ids, versions: data.map(recordVersion), approved: ids.map(() => null) };
    }
    const { versions, approved } = await this.readStates(appId, ids);
    return { ids, versions, approved };
  }

  /**
   * How many installations of `appId` wait for their admins: shown "update available" for a
   * version newer than the one they run, and not approved up to it (HSCAN of the available hash
   * in pages of `count`, with their versions and approvals read per page; O(installations shown
   * an update), so callers that poll it, such as /metrics, should cache it).
   */
  async countPendingApprovals(appId: string, count = 5000): Promise<number> {
    let pending = 0;
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.installationAvailable(appId), cursor, 'COUNT', count);
      cursor = next;
      const ids: string[] = [];
      const available: string[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        ids.push(flat[i]!);
        available.push(flat[i + 1]!);
      }
      if (ids.length === 0) continue;
      const { versions, approved } = await this.readStates(appId, ids);
      for (let k = 0; k < ids.length; k++) {
        const shown = semver.valid(available[k]!);
        const runs = versions[k] ?? null;
        if (!shown || runs === null || !semver.valid(runs) || semver.gte(runs, shown)) continue;
        const ok = approved[k] ?? null;
        if (ok === null || !semver.valid(ok) || semver.lt(ok, shown)) pending++;
      }
    } while (cursor !== '0');
    return pending;
  }

  /** Maintenance windows of `ids` (null for none, or an unknown id). */
  async readWindows(appId: string, ids: readonly string[]): Promise<(MaintenanceWindows | null)[]> {
    if (ids.length === 0) return [];
    const data = await this.redis.hmget(this.keys.installationData(appId), ...ids);
    return data.map((v) => {
      const j = recordJson(v);
      return j ? (JSON.parse(j) as StoredRecord).m : null;
    });
  }

  /** Sites of `ids` (null for unknown). */
  async readSites(appId: string, ids: readonly string[]): Promise<(string | null)[]> {
    if (ids.length === 0) return [];
    const data = await this.redis.hmget(this.keys.installationData(appId), ...ids);
    return data.map(siteOf);
  }

  /** Sites and admins of `ids` (null for unknown ids; `admins` empty when none were given). */
  async readRecipients(appId: string, ids: readonly string[]): Promise<({ site: string; admins: string[] } | null)[]> {
    if (ids.length === 0) return [];
    const data = await this.redis.hmget(this.keys.installationData(appId), ...ids);
    return data.map((v) => {
      const j = recordJson(v);
      if (!j) return null;
      const r = JSON.parse(j) as StoredRecord;
      return { site: r.s, admins: r.a ?? [] };
    });
  }

  /** The update shown available to each of `ids` ("update available"; null when none). */
  async readAvailable(appId: string, ids: readonly string[]): Promise<(string | null)[]> {
    if (ids.length === 0) return [];
    return this.redis.hmget(this.keys.installationAvailable(appId), ...ids);
  }

  /**
   * Atomic compare-and-set of many installations (one Lua call per 2,000): each moves from
   * `expected` to `target` only if it still runs `expected`; the distribution and history follow.
   * @param at upgrade time, epoch ms
   * @returns how many moved
   */
  async compareAndSetVersions(appId: string, moves: readonly VersionMove[], at: number): Promise<number> {
    return (await this.applyMoves(appId, moves, at)).moved;
  }

  /**
   * `compareAndSetVersions` for the batches of `version`'s rollout: a moved installation whose
   * upgrade the plan recorded as deferred by a maintenance window (`recordDeferrals`) gets that
   * `deferred` history entry before its `upgraded` one (compareAndSetVersions-3.lua).
   * @param version the rollout whose deferrals apply; absent: none
   * @returns how many moved, and how many of those moves had been deferred
   */
  async applyMoves(
    appId: string,
    moves: readonly VersionMove[],
    at: number,
    version?: string,
  ): Promise<{ moved: number; deferred: number }> {
    let moved = 0;
    let deferred = 0;
    const deferrals = this.keys.rolloutDeferrals(appId, version ?? '');
    for (let i = 0; i < moves.length; i += 2000) {
      // One line per move; the script builds each `upgraded` history entry from it.
      let packed = '';
      for (const m of moves.slice(i, i + 2000)) {
        assertNoSeparator(m.target, 'version');
        packed += `${m.id}\t${m.expected}\t${m.target}\t${UPGRADE_CAUSE_CODE[m.cause]}\n`;
      }
      const reply = movesApplied(
        await this.redis.mpuCompareAndSetVersions(
          this.keys.installationData(appId),
          this.keys.versionDistribution(appId),
          deferrals,
          at,
          packed,
          version === undefined ? '0' : '1',
        ),
      );
      moved += reply.moved;
      deferred += reply.deferred;
    }
    return { moved, deferred };
  }

  /**
   * The upgrade batch's fast path (commands/upgradeRange-5.lua): ids `start … stop` of the
   * bucket list `listKey` of `version`'s rollout are moved inside Redis by `targets`, the
   * version each version of the app's ladder goes to now (`target` null: it stays) and why, in
   * one atomic call of up to 2,000 ids: no id or version crosses to the client. Each move is
   * the compare-and-set's (`applyMoves` with `version`: the plan's recorded deferral, then the
   * `upgraded` entry), so a range run twice moves nobody the second time.
   * Only for decisions that depend on the current version and the approval alone (no phased
   * release): `targets` gives each version's decision without an approval, and whether an
   * approval can change it (`approvalMatters`); while the app has approvals, the installations on
   * such a version are left to the caller with the unknown ones.
   * @param at upgrade time, epoch ms
   * @returns the ids read (`considered`), moved, of which deferred, the moves per target version,
   *   and the ids of the installations left alone for the caller to read and decide one by one
   *   (a version not in `targets`, or one whose decision an approval can change while the app has
   *   approvals)
   */
  async upgradeRange(
    appId: string,
    version: string,
    listKey: string,
    start: number,
    stop: number,
    targets: ReadonlyMap<string, { target: string | null; cause: UpgradeCause; approvalMatters?: boolean }>,
    at: number,
  ): Promise<RangeUpgrade> {
    let map = '';
    for (const [from, t] of targets) {
      assertNoSeparator(from, 'version');
      if (t.target !== null) assertNoSeparator(t.target, 'version');
      map += `${from}\t${t.target ?? '-'}\t${UPGRADE_CAUSE_CODE[t.cause]}\t${t.approvalMatters ? 1 : 0}\n`;
    }
    const out: RangeUpgrade = { considered: 0, moved: 0, deferred: 0, targets: new Map(), unknown: [] };
    for (let i = start; i <= stop; i += 2000) {
      const reply = rangeUpgraded(
        await this.redis.mpuUpgradeRange(
          listKey,
          this.keys.installationData(appId),
          this.keys.versionDistribution(appId),
          this.keys.rolloutDeferrals(appId, version),
          this.keys.installationApproved(appId),
          at,
          i,
          Math.min(stop, i + 1999),
          map,
          '1',
        ),
      );
      out.considered += reply.considered;
      out.moved += reply.moved;
      out.deferred += reply.deferred;
      for (const [t, n] of reply.targets) out.targets.set(t, (out.targets.get(t) ?? 0) + n);
      out.unknown.push(...reply.unknown);
      if (reply.considered < Math.min(stop, i + 1999) - i + 1) break; // the list ended
    }
    return out;
  }

  /**
   * Records the maintenance deferrals of planned upgrades of `version` (ids → encoded `deferred`
   * history entries), for the upgrade's compare-and-set to append (`applyMoves`). Idempotent: a
   * plan resumed after a crash writes the same values again.
   */
  async recordDeferrals(appId: string, version: string, entries: ReadonlyMap<string, string>): Promise<void> {
    if (entries.size === 0) return;
    const flat: string[] = [];
    for (const [id, e] of entries) {
      assertNoSeparator(e, 'history entry');
      flat.push(id, e);
    }
    await this.redis.hset(this.keys.rolloutDeferrals(appId, version), ...flat);
  }

  /**
   * Records an approval: `approvedUpTo` becomes `next` only if it is still `expected`, and each
   * of `versions` gets an `approved` history entry.
   * @returns false when another approval got there first (read again and retry), or the
   *   installation is no longer registered (its app was removed: the re-read says so)
   */
  async setApproved(
    appId: string,
    id: string,
    expected: string | null,
    next: string,
    versions: readonly string[],
    at: number,
  ): Promise<boolean> {
    for (const v of versions) assertNoSeparator(v, 'version');
    const entries = encodeHistory(versions.map((version) => ({ at, kind: 'approved', version })));
    const reply = await this.redis.mpuApproveInstallation(
      this.keys.installationApproved(appId),
      this.keys.installationData(appId),
      id,
      expected ?? '',
      next,
      entries,
    );
    return flagOf('approveInstallation', reply);
  }

  /**
   * Marks "update available: `version`" on `ids` (once per version; ids no longer registered are
   * skipped). @returns how many were new.
   */
  async markUpdateAvailable(appId: string, ids: readonly string[], version: string, at: number): Promise<number> {
    if (ids.length === 0) return 0;
    assertNoSeparator(version, 'version');
    const reply = await this.redis.mpuMarkUpdateAvailable(
      this.keys.installationAvailable(appId),
      this.keys.installationData(appId),
      encodeHistoryEntry({ at, kind: 'update-available', version }),
      version,
      ...ids,
    );
    return countOf('markUpdateAvailable', reply);
  }

  /**
   * Moves Connect installations to the Forge app adopting their app, at its version `version`
   * (DESIGN.md "Connect to Forge adoption"): each only if it still runs `expected` on
   * `connectAppId` and this adoption has not moved it before; its history in both apps gets a
   * `moved` entry naming the Connect version (the Connect app keeps it in its `installationsLeft`
   * hash). Up to 2,000 moves per round of three steps, each touching one hash slot (Redis
   * Cluster), in this order:
   * 1. commands/releaseAdoptions-8.lua on the Connect app: the compare-and-set; a released
   *    installation leaves the Connect app and waits in the adoption's pending hash (with its
   *    outcome recorded there, so it is released once);
   * 2. commands/receiveAdoptions-6.lua on the Forge app: every pending installation joins it
   *    (once: its outcome is recorded on the Forge side too);
   * 3. the global index names the Forge app, then the pending entries are dropped.
   * A failure between steps leaves installations pending, never lost nor moved twice: step 1
   * returns every pending entry, so the next call for this adoption (the batch retried, another
   * batch, an approval) delivers them; until then they are on neither app's list (a lookup by id
   * says not found).
   * @param at time of the move, epoch ms
   * @returns the totals of the calls (see `AdoptionReply`)
   */
  async adoptInstallations(
    connectAppId: string,
    forgeAppId: string,
    version: string,
    moves: readonly AdoptionMove[],
    at: number,
  ): Promise<AdoptionReply> {
    const total: AdoptionReply = { moved: 0, conflicts: 0, done: 0 };
    const k = this.keys;
    const pending = k.adoptionPending(connectAppId, forgeAppId, version);
    for (let i = 0; i === 0 || i < moves.length; i += 2000) {
      let packed = '';
      for (const m of moves.slice(i, i + 2000)) packed += `${m.id}\t${m.expected}\t${UPGRADE_CAUSE_CODE[m.cause]}\n`;
      const r = adoptionsReleased(
        await this.redis.mpuReleaseAdoptions(
          k.installationData(connectAppId),
          k.installationApproved(connectAppId),
          k.installationAvailable(connectAppId),
          k.versionDistribution(connectAppId),
          k.installationsLeft(connectAppId),
          k.adoptionReleased(connectAppId, forgeAppId, version),
          pending,
          k.installationWindowed(connectAppId),
          at,
          connectAppId,
          forgeAppId,
          version,
          packed,
        ),
      );
      total.moved += r.moved;
      total.conflicts += r.conflicts;
      total.done += r.done;
      if (r.ids.length === 0) continue;
      countOf(
        'receiveAdoptions',
        await this.redis.mpuReceiveAdoptions(
          k.installationIds(forgeAppId),
          k.installationData(forgeAppId),
          k.versionDistribution(forgeAppId),
          k.installationLog(forgeAppId),
          k.adoptionOutcomes(forgeAppId, version),
          k.installationWindowed(forgeAppId),
          at,
          version,
          r.lines,
        ),
      );
      // The received ones join the Forge app's by-site index, the global index names it.
      await this.moveIndexed(connectAppId, forgeAppId, r.ids);
      await this.redis.hdel(pending, ...r.ids);
    }
    return total;
  }

  /** Installations the adoption by `forgeAppId@version` moved so far. */
  adoptedCount(forgeAppId: string, version: string): Promise<number> {
    return this.redis.hlen(this.keys.adoptionOutcomes(forgeAppId, version));
  }

  /** How many installations run each version: `{ '1.0.0': 12, '1.0.1': 988 }` (zero counts dropped). */
  async distribution(appId: string): Promise<Record<string, number>> {
    const raw = await this.redis.hgetall(this.keys.versionDistribution(appId));
    const out: Record<string, number> = {};
    for (const [v, n] of Object.entries(raw)) if (Number(n) > 0) out[v] = Number(n);
    return out;
  }

  /**
   * The histories of an app's installations, for audits and tests (HSCAN, never a single huge
   * read): those it has, then those that left it (moved by an adoption; `installationsLeft`).
   */
  async *scanHistory(appId: string, count = 5000): AsyncGenerator<[string, HistoryEntry[]]> {
    for (const key of [this.keys.installationData(appId), this.keys.installationsLeft(appId)]) {
      const left = key !== this.keys.installationData(appId);
      let cursor = '0';
      do {
        const [next, flat] = await this.redis.hscan(key, cursor, 'COUNT', count);
        cursor = next;
        for (let i = 0; i < flat.length; i += 2) {
          const history = left ? flat[i + 1] : splitRecord(flat[i + 1])?.history;
          yield [flat[i]!, parseHistory(history || null)];
        }
      } while (cursor !== '0');
    }
  }
}
