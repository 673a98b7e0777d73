/**
 * Redis store of rollouts (issue 4): one hash per app version with its status and plan summary,
 * the plan's buckets as Redis lists of installation ids (so upgrade jobs carry a range, not a
 * million ids), and an index of rollouts by publication time. Layout in keys.ts.
 */
import type { Redis } from 'ioredis';
import semver from 'semver';
import { AppError, ErrorCode } from '../lib/errors.js';
import type { PlanBucket, PlanSummary } from '../rollout/plan-rollout.js';
import type { AppKind, Approval, Bump } from '../versioning/types.js';
import type { Keys } from './keys.js';
import { execAll } from './installation-store.js';

/**
 * Lifecycle: `planning` → `scheduled` (automatic) | `awaiting-approval` (manual); an operator may
 * `pause` (→ `paused`, remembering the status to resume to) or `halt` (final: pending batches do
 * nothing). "complete" is not stored: it is read off the version distribution (`progress`).
 */
export type RolloutStatus = 'planning' | 'scheduled' | 'awaiting-approval' | 'paused' | 'halted';

/** A rollout as stored. Times epoch ms. */
export interface RolloutRecord {
  /** `<appId>@<version>` */
  id: string;
  appId: string;
  version: string;
  kind: AppKind;
  approval: Approval;
  bump: Bump | 'initial';
  publishedAt: number;
  status: RolloutStatus;
  /** Status `resume` returns to (set while paused). */
  resumeTo: RolloutStatus | null;
  createdAt: number;
  plannedAt: number | null;
  /** Plan summary, once planned. */
  summary: PlanSummary | null;
  /** Upgrade/notify batch jobs the plan enqueued. */
  batches: number;
  /** A newer version of the app whose rollout started while this one was in flight. */
  supersededBy: string | null;
}

/** A rollout with its live progress. */
export interface RolloutView extends RolloutRecord {
  /** Installations of the app. */
  installations: number;
  /** Installations running this version or a newer one. */
  reached: number;
  /** `reached / installations` in percent (0–100, two decimals); 100 for an app without installations. */
  progressPercent: number;
  /** True when every installation runs this version or newer. */
  complete: boolean;
}

export const rolloutId = (appId: string, version: string): string => `${appId}@${version}`;

/** Splits `<appId>@<version>` (the version never contains `@`). @throws AppError input-invalid */
export function parseRolloutId(id: string): { appId: string; version: string } {
  const at = id.lastIndexOf('@');
  if (at <= 0 || at === id.length - 1) throw new AppError(ErrorCode.INPUT_INVALID, `rollout id '${id}' should look like APP@VERSION, e.g. my-app@1.0.3`);
  return { appId: id.slice(0, at), version: id.slice(at + 1) };
}

function toHash(r: RolloutRecord): Record<string, string> {
  return {
    appId: r.appId,
    version: r.version,
    kind: r.kind,
    approval: r.approval,
    bump: r.bump,
    publishedAt: String(r.publishedAt),
    status: r.status,
    resumeTo: r.resumeTo ?? '',
    createdAt: String(r.createdAt),
    plannedAt: r.plannedAt === null ? '' : String(r.plannedAt),
    summary: r.summary ? JSON.stringify(r.summary) : '',
    batches: String(r.batches),
    supersededBy: r.supersededBy ?? '',
  };
}

function fromHash(h: Record<string, string>): RolloutRecord | null {
  if (!h.appId || !h.version) return null;
  return {
    id: rolloutId(h.appId, h.version),
    appId: h.appId,
    version: h.version,
    kind: h.kind as AppKind,
    approval: h.approval as Approval,
    bump: h.bump as Bump | 'initial',
    publishedAt: Number(h.publishedAt),
    status: h.status as RolloutStatus,
    resumeTo: (h.resumeTo || null) as RolloutStatus | null,
    createdAt: Number(h.createdAt),
    plannedAt: h.plannedAt ? Number(h.plannedAt) : null,
    summary: h.summary ? (JSON.parse(h.summary) as PlanSummary) : null,
    batches: Number(h.batches ?? 0),
    supersededBy: h.supersededBy || null,
  };
}

// KEYS: rollout hash. ARGV: action (pause|resume|halt|superseded), then its arguments.
// Atomic status transitions; every action writes only to an existing rollout (a rollout deleted
// with its app is not re-created by a plan still running). Returns {ok, status} or {err, status}.
const TRANSITION_LUA = `
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {'missing', ''} end
local a = ARGV[1]
if a == 'pause' then
  if st == 'paused' then return {'ok', st} end
  if st == 'halted' then return {'conflict', st} end
  redis.call('HSET', KEYS[1], 'status', 'paused', 'resumeTo', st)
  return {'ok', 'paused'}
elseif a == 'resume' then
  if st ~= 'paused' then
    if st == 'halted' then return {'conflict', st} end
    return {'ok', st}
  end
  local to = redis.call('HGET', KEYS[1], 'resumeTo')
  if not to or to == '' then to = 'scheduled' end
  redis.call('HSET', KEYS[1], 'status', to, 'resumeTo', '')
  return {'ok', to}
elseif a == 'halt' then
  redis.call('HSET', KEYS[1], 'status', 'halted', 'resumeTo', '')
  return {'ok', 'halted'}
elseif a == 'superseded' then
  redis.call('HSET', KEYS[1], 'supersededBy', ARGV[2])
  return {'ok', st}
end
return {'bad', st}
`;

// KEYS: rollout hash, installation id list. ARGV: summary JSON, batches, plannedAt, status.
// Ends planning only when the plan's cursor has reached the end of the installation list: an
// installation registered after the plan's last read makes it read again ('behind'). So a plan
// covers exactly the positions below its final cursor, and every installation registered later
// is the late planner's (see rollout/plan-late.ts). A pause or halt that came meanwhile wins.
// Writes nothing ('missing') once the rollout is deleted (its app removed).
const FINISH_LUA = `
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {'missing', ''} end
local cursor = tonumber(redis.call('HGET', KEYS[1], 'planCursor') or '0')
if redis.call('LLEN', KEYS[2]) > cursor then return {'behind', ''} end
redis.call('HSET', KEYS[1], 'summary', ARGV[1], 'batches', ARGV[2], 'plannedAt', ARGV[3])
if st == 'planning' then redis.call('HSET', KEYS[1], 'status', ARGV[4]) return {'ok', ARGV[4]} end
if st == 'paused' then redis.call('HSET', KEYS[1], 'resumeTo', ARGV[4]) end
return {'ok', st}
`;

// KEYS: buckets hash, rollout hash, then one list per bucket. ARGV: cursor, expected cursor ('' =
// any), then per bucket its field (`kind:at`) and its ids joined by newlines. Writes nothing and
// returns 0 once the rollout is deleted (its app removed); returns -1 when the stored cursor is
// not the expected one: a second planner of the same version (a stalled job taken over while the
// first still runs) cannot append the same installations twice.
const PUSH_LUA = `
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
if ARGV[2] ~= '' and (redis.call('HGET', KEYS[2], 'planCursor') or '0') ~= ARGV[2] then return -1 end
for i = 3, #KEYS do
  local n = 0
  local ids = {}
  for id in string.gmatch(ARGV[(i - 3) * 2 + 4], '[^\\n]+') do
    ids[#ids + 1] = id
    if #ids == 1000 then
      redis.call('RPUSH', KEYS[i], unpack(ids))
      n = n + #ids
      ids = {}
    end
  end
  if #ids > 0 then
    redis.call('RPUSH', KEYS[i], unpack(ids))
    n = n + #ids
  end
  redis.call('HINCRBY', KEYS[1], ARGV[(i - 3) * 2 + 3], n)
end
redis.call('HSET', KEYS[2], 'planCursor', ARGV[1])
return 1
`;

type Scripted = Redis & {
  mpuRolloutTransition(...args: string[]): Promise<[string, string]>;
  mpuRolloutFinish(...args: string[]): Promise<[string, string]>;
  mpuRolloutPush(numKeys: number, ...args: string[]): Promise<number>;
};

/** Redis rollout store. */
export class RolloutStore {
  private readonly redis: Scripted;
  constructor(
    redis: Redis,
    readonly keys: Keys,
  ) {
    if (!(redis as unknown as Record<string, unknown>).mpuRolloutTransition) {
      redis.defineCommand('mpuRolloutTransition', { numberOfKeys: 1, lua: TRANSITION_LUA });
      redis.defineCommand('mpuRolloutFinish', { numberOfKeys: 2, lua: FINISH_LUA });
      // numberOfKeys varies (one list per bucket): the caller passes it first
      redis.defineCommand('mpuRolloutPush', { lua: PUSH_LUA });
    }
    this.redis = redis as Scripted;
  }

  /**
   * Creates the rollout if absent (idempotent: a second plan job of the same version finds it).
   * @returns the stored record (null when it was deleted right after, with its app) and whether
   *   this call created it
   */
  async create(r: Omit<RolloutRecord, 'id'>): Promise<{ record: RolloutRecord | null; created: boolean }> {
    const key = this.keys.rollout(r.appId, r.version);
    const created = (await this.redis.hsetnx(key, 'appId', r.appId)) === 1;
    if (created) {
      await execAll(
        this.redis
          .pipeline()
          .hset(key, toHash({ ...r, id: rolloutId(r.appId, r.version) }))
          .zadd(this.keys.rollouts(), r.publishedAt, rolloutId(r.appId, r.version)),
      );
    }
    return { record: await this.get(r.appId, r.version), created };
  }

  /**
   * Deletes one rollout: its hash, its plan buckets and its index entry. For a plan that finds
   * its app removed just after creating the rollout (rollout.worker.ts); `mpu apps remove`
   * deletes whole apps (app-remover.ts).
   */
  async discard(appId: string, version: string): Promise<void> {
    await this.clearBuckets(appId, version);
    await execAll(this.redis.pipeline().unlink(this.keys.rollout(appId, version)).zrem(this.keys.rollouts(), rolloutId(appId, version)));
  }

  /** The rollout record, or null. */
  async get(appId: string, version: string): Promise<RolloutRecord | null> {
    return fromHash(await this.redis.hgetall(this.keys.rollout(appId, version)));
  }

  /** The status only (cheap: upgrade batches read it each run), or null. */
  async status(appId: string, version: string): Promise<RolloutStatus | null> {
    return (await this.redis.hget(this.keys.rollout(appId, version), 'status')) as RolloutStatus | null;
  }

  /** Statuses of the rollouts of `versions` of one app (null where none exists). */
  async statuses(appId: string, versions: readonly string[]): Promise<(RolloutStatus | null)[]> {
    if (versions.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const v of versions) pipe.hget(this.keys.rollout(appId, v), 'status');
    return execAll<RolloutStatus | null>(pipe);
  }

  /**
   * Status transition: `pause`, `resume` or `halt`.
   * @throws AppError `rollout-not-found`; `rollout-conflict` when resuming or pausing a halted rollout
   */
  async transition(appId: string, version: string, action: 'pause' | 'resume' | 'halt'): Promise<RolloutStatus> {
    const [res, st] = await this.redis.mpuRolloutTransition(this.keys.rollout(appId, version), action);
    if (res === 'missing') throw new AppError(ErrorCode.ROLLOUT_NOT_FOUND, `no rollout ${rolloutId(appId, version)} (see 'mpu rollouts list')`);
    if (res === 'conflict') throw new AppError(ErrorCode.ROLLOUT_CONFLICT, `rollout ${rolloutId(appId, version)} is ${st}: cannot ${action} it`);
    return st as RolloutStatus;
  }

  /**
   * Stores the plan summary and ends planning, atomically, if the plan's cursor has reached the
   * end of the app's installation list (a pause or halt that came meanwhile wins).
   * @param at end of planning, epoch ms
   * @returns the status; `behind` when installations were registered since the plan's last read
   *   (plan them, then call again); null when the rollout no longer exists (its app was removed):
   *   nothing is written then
   */
  async finishPlanning(appId: string, version: string, summary: PlanSummary, batches: number, status: RolloutStatus, at: number): Promise<RolloutStatus | 'behind' | null> {
    const [res, st] = await this.redis.mpuRolloutFinish(this.keys.rollout(appId, version), this.keys.installationIds(appId), JSON.stringify(summary), String(batches), String(at), status);
    if (res === 'behind') return 'behind';
    if (res === 'missing') return null;
    return st as RolloutStatus;
  }

  /**
   * What the late planner needs of the rollouts of `versions` (one app): status, whether the plan
   * finished (`plannedAt`, epoch ms) and its cursor (`planCursor`: installations `0 … planCursor-1`
   * of the registration list are planned; final once `plannedAt` is set). Nulls where no rollout
   * exists.
   */
  async planStates(appId: string, versions: readonly string[]): Promise<({ status: RolloutStatus; plannedAt: number | null; planCursor: number } | null)[]> {
    if (versions.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const v of versions) pipe.hmget(this.keys.rollout(appId, v), 'status', 'plannedAt', 'planCursor');
    const rows = await execAll<(string | null)[]>(pipe);
    return rows.map(([status, plannedAt, cursor]) =>
      status ? { status: status as RolloutStatus, plannedAt: plannedAt ? Number(plannedAt) : null, planCursor: Number(cursor ?? 0) } : null,
    );
  }

  /** Marks `older` rollouts of the app as superseded by `version` (informational; only rollouts that still exist). */
  async markSuperseded(appId: string, version: string): Promise<void> {
    const ids = await this.redis.zrange(this.keys.rollouts(), 0, -1);
    const pipe = this.redis.pipeline();
    for (const id of ids) {
      const r = parseRolloutId(id);
      if (r.appId === appId && semver.valid(r.version) && semver.lt(r.version, version)) {
        (pipe as unknown as Scripted).mpuRolloutTransition(this.keys.rollout(appId, r.version), 'superseded', version);
      }
    }
    await execAll(pipe);
  }

  /**
   * Appends planned buckets and moves the plan cursor to `cursor` (installations planned so far),
   * in one Lua call (atomic): a planner that dies mid-chunk leaves either all of the chunk or
   * none of it. Ids travel joined by newlines (installation ids contain no whitespace).
   * @param expected the cursor the caller planned from; when given and the stored cursor differs
   *   (another planner of this version moved it), nothing is written
   * @returns false when the rollout no longer exists (its app was removed): nothing is written
   * @throws AppError rollout-conflict (retryable) when `expected` does not match
   */
  async pushBuckets(appId: string, version: string, buckets: readonly PlanBucket[], cursor: number, expected?: number): Promise<boolean> {
    const keys = [this.keys.rolloutBuckets(appId, version), this.keys.rollout(appId, version)];
    const args: string[] = [String(cursor), expected === undefined ? '' : String(expected)];
    for (const b of buckets) {
      keys.push(this.keys.rolloutBucket(appId, version, b.kind, b.at));
      args.push(`${b.kind}:${b.at}`, b.ids.join('\n'));
    }
    const res = Number(await this.redis.mpuRolloutPush(keys.length, ...keys, ...args));
    if (res === -1) {
      throw new AppError(ErrorCode.ROLLOUT_CONFLICT, `the plan of ${rolloutId(appId, version)} moved past ${expected} meanwhile (another planner); it resumes at its cursor`, { retryable: true });
    }
    return res === 1;
  }

  /** Installations planned so far (0 before planning starts). */
  async planCursor(appId: string, version: string): Promise<number> {
    return Number((await this.redis.hget(this.keys.rollout(appId, version), 'planCursor')) ?? 0);
  }

  /** Planned buckets: kind, time and size, by time. */
  async listBuckets(appId: string, version: string): Promise<{ kind: 'upgrade' | 'notify'; at: number; size: number }[]> {
    const h = await this.redis.hgetall(this.keys.rolloutBuckets(appId, version));
    return Object.entries(h)
      .map(([k, n]) => {
        const [kind, at] = k.split(':');
        return { kind: kind as 'upgrade' | 'notify', at: Number(at), size: Number(n) };
      })
      .sort((a, b) => a.at - b.at);
  }

  /** Deletes the planned buckets (a restarted plan, or a halt). */
  async clearBuckets(appId: string, version: string): Promise<void> {
    const buckets = await this.listBuckets(appId, version);
    const keys = buckets.map((b) => this.keys.rolloutBucket(appId, version, b.kind, b.at));
    for (let i = 0; i < keys.length; i += 500) await this.redis.unlink(...keys.slice(i, i + 500));
    await this.redis.unlink(this.keys.rolloutBuckets(appId, version));
  }

  /** Lets the plan's bucket lists expire in `seconds` (a completed rollout). Idempotent. */
  async expireBuckets(appId: string, version: string, seconds: number): Promise<void> {
    const key = this.keys.rolloutBuckets(appId, version);
    if ((await this.redis.ttl(key)) >= 0) return; // already expiring
    const buckets = await this.listBuckets(appId, version);
    const pipe = this.redis.pipeline();
    for (const b of buckets) pipe.expire(this.keys.rolloutBucket(appId, version, b.kind, b.at), seconds);
    pipe.expire(key, seconds);
    await execAll(pipe);
  }

  /** Ids `start … end` (inclusive) of one bucket. */
  bucketRange(appId: string, version: string, kind: string, at: number, start: number, end: number): Promise<string[]> {
    return this.redis.lrange(this.keys.rolloutBucket(appId, version, kind, at), start, end);
  }

  /** Rollouts, newest publication first. */
  async list(opts: { appId?: string; limit?: number } = {}): Promise<RolloutRecord[]> {
    const ids = await this.redis.zrevrange(this.keys.rollouts(), 0, -1);
    const wanted = ids.map(parseRolloutId).filter((r) => !opts.appId || r.appId === opts.appId).slice(0, opts.limit ?? 100);
    const pipe = this.redis.pipeline();
    for (const r of wanted) pipe.hgetall(this.keys.rollout(r.appId, r.version));
    const hashes = await execAll<Record<string, string>>(pipe);
    return hashes.flatMap((h) => {
      const r = fromHash(h);
      return r ? [r] : [];
    });
  }

  /** Live progress of `record` from the version distribution of its app. */
  async view(record: RolloutRecord): Promise<RolloutView> {
    const dist = await this.redis.hgetall(this.keys.versionDistribution(record.appId));
    return progressOf(record, dist);
  }
}

/** Progress of a rollout from a distribution (`version → count`). Pure. */
export function progressOf(record: RolloutRecord, dist: Record<string, string | number>): RolloutView {
  let installations = 0;
  let reached = 0;
  for (const [v, n] of Object.entries(dist)) {
    const c = Number(n);
    if (c <= 0) continue;
    installations += c;
    if (semver.valid(v) && semver.gte(v, record.version)) reached += c;
  }
  const progressPercent = installations === 0 ? 100 : Math.floor((reached / installations) * 10_000) / 100;
  return { ...record, installations, reached, progressPercent, complete: reached === installations };
}
