/**
 * Redis store of installations (issue 4). Compact: one app's installations live in a few hashes
 * keyed by installation id (layout in keys.ts), read and written in batches (pipelines, Lua over
 * thousands of ids per call) so a million installations plan and upgrade in seconds.
 *
 * The version hash is the compare-and-set target: `compareAndSetVersions` moves an installation
 * only from the version the caller read, so concurrent or redelivered batches never upgrade one
 * twice, and each move is appended to its history with the time.
 *
 * History entries (oldest first), `;`-separated in one hash field per installation:
 * `<at>|i|<version>` registered · `<at>|u|<from>|<to>|<a or p>` upgraded (automatic or by
 * approval) · `<at>|a|<version>` approved · `<at>|n|<version>` update available shown/notified.
 */
import type { ChainableCommander, Redis } from 'ioredis';
import { AppError, ErrorCode } from '../lib/errors.js';
import type { Installation, MaintenanceWindows } from '../rollout/types.js';
import type { PlanInput } from '../rollout/plan-rollout.js';
import type { Keys } from './keys.js';

/** One history entry (see module doc). `at` is epoch ms. */
export type HistoryEntry =
  | { at: number; kind: 'registered'; version: string }
  | { at: number; kind: 'upgraded'; from: string; to: string; cause: 'automatic' | 'approval' }
  | { at: number; kind: 'approved'; version: string }
  | { at: number; kind: 'update-available'; version: string };

/** An installation with its rollout state. */
export interface InstallationView extends Installation {
  approvedUpTo: string | null;
  /** Newest version shown as "update available", or null. */
  updateAvailable: string | null;
  history: HistoryEntry[];
}

/** One compare-and-set move: from `expected` (what the caller read) to `target`. */
export interface VersionMove {
  id: string;
  expected: string;
  target: string;
  cause: 'automatic' | 'approval';
}

interface StoredRecord {
  s: string;
  p: string[];
  c: number;
  m: MaintenanceWindows | null;
}

// KEYS: ids, data, version, distribution, history, registration log. ARGV: at, then id, json,
// version triples. New installations are appended to the id list with their version; known ones
// only get their data updated (their version is the store's, moved only by upgrades). The new
// ones take consecutive positions (the script is atomic), logged as one `start|end|at` entry for
// the late planner in the same call, so no registration can miss it.
const REGISTER_LUA = `
local at = ARGV[1]
local created = 0
local first = redis.call('LLEN', KEYS[1])
local dist = {}
for i = 2, #ARGV, 3 do
  local id, json, ver = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if redis.call('HSET', KEYS[2], id, json) == 1 then
    created = created + 1
    redis.call('RPUSH', KEYS[1], id)
    redis.call('HSET', KEYS[3], id, ver)
    dist[ver] = (dist[ver] or 0) + 1
    redis.call('HSET', KEYS[5], id, at .. '|i|' .. ver)
  end
end
for v, n in pairs(dist) do redis.call('HINCRBY', KEYS[4], v, n) end
if created > 0 then redis.call('RPUSH', KEYS[6], first .. '|' .. (first + created - 1) .. '|' .. at) end
return created
`;

// KEYS: registration log. ARGV: expected first entry, count. Drops the first `count` entries when
// the first is still the one the caller handled (entries are unique: their start positions are),
// so two late planners racing on the same entries drop them once.
const ACK_LOG_LUA = `
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[1] then return 0 end
redis.call('LTRIM', KEYS[1], tonumber(ARGV[2]), -1)
return 1
`;

// KEYS: version, distribution, history. ARGV: at, moves packed as lines `id\texpected\ttarget\tcause`
// (one argument: thousands of arguments cost the client more than the script costs Redis).
// The compare-and-set: an installation moves only from the version the caller read.
const CAS_LUA = `
local at = ARGV[1]
local moved = 0
local dist = {}
for id, expected, target, cause in string.gmatch(ARGV[2], '([^\\t\\n]+)\\t([^\\t\\n]+)\\t([^\\t\\n]+)\\t([^\\t\\n]+)') do
  if redis.call('HGET', KEYS[1], id) == expected then
    redis.call('HSET', KEYS[1], id, target)
    dist[expected] = (dist[expected] or 0) - 1
    dist[target] = (dist[target] or 0) + 1
    local e = at .. '|u|' .. expected .. '|' .. target .. '|' .. cause
    local h = redis.call('HGET', KEYS[3], id)
    if h then e = h .. ';' .. e end
    redis.call('HSET', KEYS[3], id, e)
    moved = moved + 1
  end
end
for v, n in pairs(dist) do
  if n ~= 0 then redis.call('HINCRBY', KEYS[2], v, n) end
end
return moved
`;

// KEYS: a list of ids (plan bucket), version, approved. ARGV: start, stop. An upgrade batch's
// read: ids, current versions and approvals in one call, ids never sent.
const READ_RANGE_STATES_LUA = `
local ids = redis.call('LRANGE', KEYS[1], ARGV[1], ARGV[2])
local ver, appr = {}, {}
local hasAppr = redis.call('EXISTS', KEYS[3]) == 1
for i = 1, #ids, 1000 do
  local part = {unpack(ids, i, math.min(i + 999, #ids))}
  local v = redis.call('HMGET', KEYS[2], unpack(part))
  local a = hasAppr and redis.call('HMGET', KEYS[3], unpack(part)) or nil
  for k = 1, #part do
    ver[#ver + 1] = v[k] or ''
    appr[#appr + 1] = a and a[k] or ''
  end
end
return {ids, ver, appr}
`;

// KEYS: approved, history, version. ARGV: id, expected ('' = none), new, at, versions approved
// (comma list). Only a registered installation (one in the version hash) is written: one whose
// app was removed meanwhile is not re-created.
const APPROVE_LUA = `
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 0 then return 0 end
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if cur ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
local h = redis.call('HGET', KEYS[2], ARGV[1])
for v in string.gmatch(ARGV[5], '[^,]+') do
  local e = ARGV[4] .. '|a|' .. v
  if h then h = h .. ';' .. e else h = e end
end
if h then redis.call('HSET', KEYS[2], ARGV[1], h) end
return 1
`;

// KEYS: available, history, version. ARGV: at, version, ids… Marks "update available" once per
// version, on registered installations only (one whose app was removed is not re-created).
const AVAILABLE_LUA = `
local n = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('HGET', KEYS[1], id) ~= ARGV[2] and redis.call('HEXISTS', KEYS[3], id) == 1 then
    redis.call('HSET', KEYS[1], id, ARGV[2])
    local e = ARGV[1] .. '|n|' .. ARGV[2]
    local h = redis.call('HGET', KEYS[2], id)
    if h then e = h .. ';' .. e end
    redis.call('HSET', KEYS[2], id, e)
    n = n + 1
  end
end
return n
`;

// KEYS: ids, data, version, approved. ARGV: start, stop (inclusive). The planner's read of one
// chunk in one call: ids never travel to Redis (sending 15,000 arguments per chunk cost more
// client CPU than the planning itself).
const READ_CHUNK_LUA = `
local ids = redis.call('LRANGE', KEYS[1], ARGV[1], ARGV[2])
local data, ver, appr = {}, {}, {}
local hasAppr = redis.call('EXISTS', KEYS[4]) == 1
for i = 1, #ids, 1000 do
  local part = {unpack(ids, i, math.min(i + 999, #ids))}
  local d = redis.call('HMGET', KEYS[2], unpack(part))
  local v = redis.call('HMGET', KEYS[3], unpack(part))
  local a = hasAppr and redis.call('HMGET', KEYS[4], unpack(part)) or nil
  for k = 1, #part do
    data[#data + 1] = d[k] or ''
    ver[#ver + 1] = v[k] or ''
    appr[#appr + 1] = a and a[k] or ''
  end
end
return {ids, data, ver, appr}
`;

type Scripted = Redis & {
  mpuInstAckLog(...args: (string | number)[]): Promise<number>;
  mpuInstReadChunk(...args: (string | number)[]): Promise<[string[], string[], string[], string[]]>;
  mpuInstRegister(...args: (string | number)[]): Promise<number>;
  mpuInstCas(...args: (string | number)[]): Promise<number>;
  mpuInstReadRangeStates(...args: (string | number)[]): Promise<[string[], string[], string[]]>;
  mpuInstApprove(...args: (string | number)[]): Promise<number>;
  mpuInstAvailable(...args: (string | number)[]): Promise<number>;
};

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

/** Parses a history field. Unknown entries are skipped (forward compatible). */
export function parseHistory(s: string | null | undefined): HistoryEntry[] {
  if (!s) return [];
  const out: HistoryEntry[] = [];
  for (const raw of s.split(';')) {
    const f = raw.split('|');
    const at = Number(f[0]);
    if (f[1] === 'i') out.push({ at, kind: 'registered', version: f[2]! });
    else if (f[1] === 'u') out.push({ at, kind: 'upgraded', from: f[2]!, to: f[3]!, cause: f[4] === 'p' ? 'approval' : 'automatic' });
    else if (f[1] === 'a') out.push({ at, kind: 'approved', version: f[2]! });
    else if (f[1] === 'n') out.push({ at, kind: 'update-available', version: f[2]! });
  }
  return out;
}

/** Runs a pipeline; throws its first error; returns the results. */
export async function execAll<T>(pipe: ChainableCommander): Promise<T[]> {
  const res = (await pipe.exec()) ?? [];
  for (const [err] of res) if (err) throw err;
  return res.map(([, v]) => v as T);
}

function encode(inst: Installation): string {
  const r: StoredRecord = { s: inst.site, p: inst.products, c: inst.checkOffsetMs, m: inst.maintenance };
  return JSON.stringify(r);
}

function decode(appId: string, id: string, json: string, version: string): Installation {
  const r = JSON.parse(json) as StoredRecord;
  return { id, appId, site: r.s, products: r.p, version, checkOffsetMs: r.c, maintenance: r.m };
}

/** Redis installation store. Methods throw AppError `store-unavailable` only via the caller's connection errors. */
export class InstallationStore {
  private readonly redis: Scripted;
  constructor(
    redis: Redis,
    readonly keys: Keys,
  ) {
    if (!(redis as unknown as Record<string, unknown>).mpuInstRegister) {
      redis.defineCommand('mpuInstRegister', { numberOfKeys: 6, lua: REGISTER_LUA });
      redis.defineCommand('mpuInstAckLog', { numberOfKeys: 1, lua: ACK_LOG_LUA });
      redis.defineCommand('mpuInstCas', { numberOfKeys: 3, lua: CAS_LUA });
      redis.defineCommand('mpuInstApprove', { numberOfKeys: 3, lua: APPROVE_LUA });
      redis.defineCommand('mpuInstAvailable', { numberOfKeys: 3, lua: AVAILABLE_LUA });
      redis.defineCommand('mpuInstReadChunk', { numberOfKeys: 4, lua: READ_CHUNK_LUA });
      redis.defineCommand('mpuInstReadRangeStates', { numberOfKeys: 3, lua: READ_RANGE_STATES_LUA });
    }
    this.redis = redis as Scripted;
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
    const ids = batch.map((i) => i.id);
    const owners = await this.redis.hmget(this.keys.installationIndex(), ...ids);
    const conflicts = batch.filter((inst, k) => owners[k] && owners[k] !== inst.appId);
    if (conflicts.length) {
      throw new AppError(ErrorCode.INPUT_INVALID, `installation ${conflicts[0]!.id} is already registered to app ${owners[batch.indexOf(conflicts[0]!)]}`, {
        details: { ids: conflicts.slice(0, 20).map((c) => c.id) },
      });
    }
    let created = 0;
    const byApp = new Map<string, Installation[]>();
    for (const inst of batch) {
      let l = byApp.get(inst.appId);
      if (!l) byApp.set(inst.appId, (l = []));
      l.push(inst);
    }
    for (const [appId, list] of byApp) {
      for (let i = 0; i < list.length; i += 2000) {
        const slice = list.slice(i, i + 2000);
        const args: (string | number)[] = [
          this.keys.installationIds(appId),
          this.keys.installationData(appId),
          this.keys.installationVersion(appId),
          this.keys.versionDistribution(appId),
          this.keys.installationHistory(appId),
          this.keys.installationLog(appId),
          at,
        ];
        const index: string[] = [];
        for (const inst of slice) {
          args.push(inst.id, encode(inst), inst.version);
          index.push(inst.id, appId);
        }
        const pipe = this.redis.pipeline();
        pipe.hset(this.keys.installationIndex(), ...index);
        (pipe as unknown as Scripted).mpuInstRegister(...args);
        const res = await pipe.exec();
        const err = res?.find(([e]) => e)?.[0];
        if (err) throw err;
        created += Number(res![1]![1]);
      }
    }
    return { created, updated: batch.length - created };
  }

  /** App of an installation, or null when unknown. */
  appOf(id: string): Promise<string | null> {
    return this.redis.hget(this.keys.installationIndex(), id);
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
    if (!appId) throw new AppError(ErrorCode.INSTALLATION_NOT_FOUND, `no installation '${id}' (register it with POST /installations or 'mpu installations import')`);
    const [json, version, approved, available, history] = await execAll<string | null>(
      this.redis
        .pipeline()
      .hget(this.keys.installationData(appId), id)
      .hget(this.keys.installationVersion(appId), id)
      .hget(this.keys.installationApproved(appId), id)
      .hget(this.keys.installationAvailable(appId), id)
        .hget(this.keys.installationHistory(appId), id),
    );
    if (!json || !version) throw new AppError(ErrorCode.INSTALLATION_NOT_FOUND, `installation '${id}' is indexed but has no record in app ${appId}`);
    return { ...decode(appId, id, json, version), approvedUpTo: approved ?? null, updateAvailable: available ?? null, history: parseHistory(history) };
  }

  /** Installations `offset … offset+limit-1` of an app in registration order (without history). */
  async list(appId: string, offset: number, limit: number): Promise<Installation[]> {
    const ids = await this.redis.lrange(this.keys.installationIds(appId), offset, offset + limit - 1);
    if (ids.length === 0) return [];
    const [data = [], versions = []] = await execAll<(string | null)[]>(
      this.redis.pipeline().hmget(this.keys.installationData(appId), ...ids).hmget(this.keys.installationVersion(appId), ...ids),
    );
    return ids.flatMap((id, k) => (data[k] && versions[k] ? [decode(appId, id, data[k], versions[k])] : []));
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
   * many positions were read (one Lua call): a cursor advances by `read`, so an id without a
   * record can never stall it.
   */
  async readChunk(appId: string, start: number, count: number): Promise<PlanChunk<PlanInput & { position: number }>> {
    if (count <= 0) return { read: 0, inputs: [] };
    const [ids, data, versions, approved] = await this.redis.mpuInstReadChunk(
      this.keys.installationIds(appId),
      this.keys.installationData(appId),
      this.keys.installationVersion(appId),
      this.keys.installationApproved(appId),
      start,
      start + count - 1,
    );
    const out: (PlanInput & { position: number })[] = [];
    for (let k = 0; k < ids.length; k++) {
      const json = data[k];
      const version = versions[k];
      if (!json || !version) continue;
      const r = JSON.parse(json) as StoredRecord;
      out.push({ id: ids[k]!, version, checkOffsetMs: r.c, maintenance: r.m, approvedUpTo: approved[k] || null, position: start + k });
    }
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
      return Number.isInteger(start) && Number.isInteger(end) && Number.isFinite(at) ? { start: start!, end: end!, at: at!, entry } : { start: 0, end: -1, at: 0, entry };
    });
  }

  /**
   * Drops the first `count` pending registrations once they are planned, if `first` (the entry
   * the caller read first) is still first.
   * @returns false when another late planner dropped them already
   */
  async ackRegistrations(appId: string, first: string, count: number): Promise<boolean> {
    return Number(await this.redis.mpuInstAckLog(this.keys.installationLog(appId), first, count)) === 1;
  }

  /** Current versions and approvals of `ids` (null version for unknown ids). */
  async readStates(appId: string, ids: readonly string[]): Promise<{ versions: (string | null)[]; approved: (string | null)[] }> {
    if (ids.length === 0) return { versions: [], approved: [] };
    const [versions = [], approved = []] = await execAll<(string | null)[]>(
      this.redis.pipeline().hmget(this.keys.installationVersion(appId), ...ids).hmget(this.keys.installationApproved(appId), ...ids),
    );
    return { versions, approved };
  }

  /**
   * Ids `start … stop` of the list at `listKey` (a plan bucket) with their current versions and
   * approvals (null where absent), in one call.
   */
  async readRangeStates(appId: string, listKey: string, start: number, stop: number): Promise<{ ids: string[]; versions: (string | null)[]; approved: (string | null)[] }> {
    const [ids, v, a] = await this.redis.mpuInstReadRangeStates(listKey, this.keys.installationVersion(appId), this.keys.installationApproved(appId), start, stop);
    return { ids, versions: v.map((x) => x || null), approved: a.map((x) => x || null) };
  }

  /** Sites of `ids` (null for unknown). */
  async readSites(appId: string, ids: readonly string[]): Promise<(string | null)[]> {
    if (ids.length === 0) return [];
    const data = await this.redis.hmget(this.keys.installationData(appId), ...ids);
    return data.map((j) => (j ? (JSON.parse(j) as StoredRecord).s : null));
  }

  /**
   * Atomic compare-and-set of many installations (one Lua call per 2,000): each moves from
   * `expected` to `target` only if it still runs `expected`; the distribution and history follow.
   * @param at upgrade time, epoch ms
   * @returns how many moved
   */
  async compareAndSetVersions(appId: string, moves: readonly VersionMove[], at: number): Promise<number> {
    let moved = 0;
    for (let i = 0; i < moves.length; i += 2000) {
      const args: (string | number)[] = [this.keys.installationVersion(appId), this.keys.versionDistribution(appId), this.keys.installationHistory(appId), at];
      let packed = '';
      for (const m of moves.slice(i, i + 2000)) packed += `${m.id}\t${m.expected}\t${m.target}\t${m.cause === 'approval' ? 'p' : 'a'}\n`;
      args.push(packed);
      moved += Number(await this.redis.mpuInstCas(...args));
    }
    return moved;
  }

  /**
   * Records an approval: `approvedUpTo` becomes `next` only if it is still `expected`, and each
   * of `versions` gets an `approved` history entry.
   * @returns false when another approval got there first (read again and retry), or the
   *   installation is no longer registered (its app was removed: the re-read says so)
   */
  async setApproved(appId: string, id: string, expected: string | null, next: string, versions: readonly string[], at: number): Promise<boolean> {
    const r = await this.redis.mpuInstApprove(
      this.keys.installationApproved(appId),
      this.keys.installationHistory(appId),
      this.keys.installationVersion(appId),
      id,
      expected ?? '',
      next,
      at,
      versions.join(','),
    );
    return Number(r) === 1;
  }

  /**
   * Marks "update available: `version`" on `ids` (once per version; ids no longer registered are
   * skipped). @returns how many were new.
   */
  async markUpdateAvailable(appId: string, ids: readonly string[], version: string, at: number): Promise<number> {
    if (ids.length === 0) return 0;
    return Number(
      await this.redis.mpuInstAvailable(this.keys.installationAvailable(appId), this.keys.installationHistory(appId), this.keys.installationVersion(appId), at, version, ...ids),
    );
  }

  /** How many installations run each version: `{ '1.0.0': 12, '1.0.1': 988 }` (zero counts dropped). */
  async distribution(appId: string): Promise<Record<string, number>> {
    const raw = await this.redis.hgetall(this.keys.versionDistribution(appId));
    const out: Record<string, number> = {};
    for (const [v, n] of Object.entries(raw)) if (Number(n) > 0) out[v] = Number(n);
    return out;
  }

  /** Raw history fields of many installations, for audits and tests (HSCAN, never a single huge read). */
  async *scanHistory(appId: string, count = 5000): AsyncGenerator<[string, HistoryEntry[]]> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.installationHistory(appId), cursor, 'COUNT', count);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) yield [flat[i]!, parseHistory(flat[i + 1])];
    } while (cursor !== '0');
  }
}
