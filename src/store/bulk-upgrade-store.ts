/**
 * Redis store of bulk major-version upgrades (DESIGN.md "Distribution rules"; use cases in
 * src/app/rollout/bulk-upgrades.ts). One bulk upgrade is a record hash, its candidate list (the
 * installations found on the source major when it was planned), an explicit list of requested
 * installations when an operator gave one, and an outcome hash that records each installation's
 * outcome once (moved, or why skipped): the counters and the exactly-once guarantee both come
 * from it. Layout in keys.ts; scripts in commands/ (claimBulkUpgrade-1, planBulkChunk-4,
 * pushBulkCandidates-3, readBulkBatch-4, applyBulkMoves-6, finishBulkPlan-4, cancelBulkUpgrade-4).
 *
 * Records of finished (completed or cancelled) bulk upgrades carry `expiresAt` (clock ms) and
 * their keys expire in Redis after the retention too: readers treat a record past `expiresAt`
 * as gone, so expiry follows the injected clock.
 */
import type { RedisConnection } from '../lib/redis-connection.js';
import { UnexpectedScriptReply, columnsOf } from './script-results.js';
import type { MaintenanceWindows } from '../rollout/types.js';
import type { BulkSkipReason, RunningBulkUpgrade } from '../rollout/bulk-upgrade.js';
import { BULK_SKIP_REASONS } from '../rollout/bulk-upgrade.js';
import { execAll } from '../lib/exec-all.js';
import { crossSlotPipeline } from '../lib/redis-connection.js';
import type { Keys } from './keys.js';
import { defineScripts, type ScriptedRedis } from './scripts.js';

/** A bulk upgrade's status: `running` until every candidate has an outcome or it is cancelled. */
export type BulkUpgradeStatus = 'running' | 'completed' | 'cancelled';

/** One bulk upgrade as stored. Times are clock epoch ms. */
export interface BulkUpgradeRecord {
  id: string;
  appId: string;
  environment: string;
  /** Developer account that started it. */
  account: string;
  /** Source and target major versions. */
  from: number;
  to: number;
  /** The source major's newest version when it started (whose permissions were compared). */
  fromVersion: string;
  /** The version installations move to: the target major's newest version when it started. */
  toVersion: string;
  status: BulkUpgradeStatus;
  startedAt: number;
  completedAt: number | null;
  /** When a finished record expires (null while running). */
  expiresAt: number | null;
  /** Installations in scope so far (final once `planned`). */
  total: number;
  completed: number;
  failed: number;
  /** Failed installations by reason. */
  skipped: Partial<Record<BulkSkipReason, number>>;
  /** Whether the candidate list is complete. */
  planned: boolean;
  /** Positions of the scope planned so far. */
  cursor: number;
  /** The scope: an explicit list of installations (`requested`), or the app's installations `0 … scopeEnd-1`. */
  explicit: boolean;
  scopeEnd: number;
}

/** What `create` stores. */
export type NewBulkUpgrade = Pick<
  BulkUpgradeRecord,
  'id' | 'appId' | 'environment' | 'account' | 'from' | 'to' | 'fromVersion' | 'toVersion' | 'startedAt' | 'scopeEnd'
> & { requested: readonly string[] | null };

/** The outcome of one `applyMoves` call. */
export interface AppliedBulkMoves {
  state: 'ok' | 'finished' | 'stopped';
  moved: number;
  skipped: number;
  /** Installations whose version was not the one read: the caller reads them again. */
  conflicts: number;
}

/** One line of `applyMoves`: move from `expected`, or record `skip`. */
export type BulkMoveLine = { id: string; expected: string } | { id: string; skip: BulkSkipReason };

const num = (s: string | undefined, d = 0) => (s === undefined || s === '' ? d : Number(s));

function decode(h: Record<string, string>): BulkUpgradeRecord | null {
  if (!h.id || !h.status) return null;
  const skipped: Partial<Record<BulkSkipReason, number>> = {};
  for (const r of BULK_SKIP_REASONS) if (h[`skip:${r}`]) skipped[r] = Number(h[`skip:${r}`]);
  return {
    id: h.id,
    appId: h.appId ?? '',
    environment: h.environment ?? '',
    account: h.account ?? '',
    from: num(h.from),
    to: num(h.to),
    fromVersion: h.fromVersion ?? '',
    toVersion: h.toVersion ?? '',
    status: h.status as BulkUpgradeStatus,
    startedAt: num(h.startedAt),
    completedAt: h.completedAt ? Number(h.completedAt) : null,
    expiresAt: h.expiresAt ? Number(h.expiresAt) : null,
    total: num(h.total),
    completed: num(h.completed),
    failed: num(h.failed),
    skipped,
    planned: h.planned === '1',
    cursor: num(h.cursor),
    explicit: h.explicit === '1',
    scopeEnd: num(h.scopeEnd),
  };
}

/** Redis bulk upgrade store. */
export class BulkUpgradeStore {
  private readonly redis: ScriptedRedis;
  constructor(
    redis: RedisConnection,
    readonly keys: Keys,
  ) {
    this.redis = defineScripts(redis);
  }

  /** The running bulk upgrades as the limits see them, with the time each was claimed (clock ms). */
  async running(): Promise<(RunningBulkUpgrade & { claimedAt: number })[]> {
    const raw = await this.redis.hgetall(this.keys.bulkUpgradesRunning());
    return Object.entries(raw).map(([id, v]) => {
      const [appId = '', environment = '', account = '', at = '0'] = v.split('\t');
      return { id, appId, environment, account, claimedAt: Number(at) };
    });
  }

  /** Drops ids from the running set (finished, cancelled, expired, or never created). */
  async release(...ids: string[]): Promise<void> {
    if (ids.length) await this.redis.hdel(this.keys.bulkUpgradesRunning(), ...ids);
  }

  /**
   * Adds `r` to the running set if the running ids are still `seen` (compare-and-set).
   * @returns false when the set changed meanwhile: read it again and judge the limits again
   */
  async claim(seen: readonly string[], r: RunningBulkUpgrade, at: number): Promise<boolean> {
    const value = [r.appId, r.environment, r.account, at].join('\t');
    const reply = await this.redis.mpuClaimBulkUpgrade(
      this.keys.bulkUpgradesRunning(),
      [...seen].sort().join('\n'),
      r.id,
      value,
    );
    return reply === 1;
  }

  /**
   * Stores a new running bulk upgrade (after `claim`), its requested list and its index entries:
   * the global id index first, then the app's keys in one MULTI (one hash slot). A failure
   * between the two leaves an index entry whose record does not exist, which readers take as an
   * unknown id (and `mpu apps remove` deletes); the other order could leave a running bulk
   * upgrade that cannot be cancelled by its id.
   */
  async create(b: NewBulkUpgrade): Promise<void> {
    const k = this.keys;
    await this.redis.hset(k.bulkUpgradeIndex(), b.id, b.appId);
    const pipe = this.redis.multi();
    if (b.requested)
      for (let i = 0; i < b.requested.length; i += 10_000)
        pipe.rpush(k.bulkUpgradeRequested(b.appId, b.id), ...b.requested.slice(i, i + 10_000));
    pipe.hset(k.bulkUpgrade(b.appId, b.id), {
      id: b.id,
      appId: b.appId,
      environment: b.environment,
      account: b.account,
      from: b.from,
      to: b.to,
      fromVersion: b.fromVersion,
      toVersion: b.toVersion,
      status: 'running',
      startedAt: b.startedAt,
      total: 0,
      completed: 0,
      failed: 0,
      cursor: 0,
      planned: 0,
      explicit: b.requested ? 1 : 0,
      scopeEnd: b.requested ? b.requested.length : b.scopeEnd,
    });
    pipe.zadd(k.bulkUpgrades(b.appId), b.startedAt, b.id);
    await execAll(pipe);
  }

  /** One record, or null (unknown, or its keys expired). Not filtered by `expiresAt`: see `isExpired`. */
  async get(appId: string, id: string): Promise<BulkUpgradeRecord | null> {
    return decode(await this.redis.hgetall(this.keys.bulkUpgrade(appId, id)));
  }

  /** The app of a bulk upgrade id, or null. */
  appOf(id: string): Promise<string | null> {
    return this.redis.hget(this.keys.bulkUpgradeIndex(), id);
  }

  /**
   * The app's bulk upgrades, newest first, with the ids whose records are gone (their keys
   * expired) for the caller to `forget`.
   */
  async list(appId: string): Promise<{ records: BulkUpgradeRecord[]; gone: string[] }> {
    const ids = await this.redis.zrevrange(this.keys.bulkUpgrades(appId), 0, -1);
    if (ids.length === 0) return { records: [], gone: [] };
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(this.keys.bulkUpgrade(appId, id));
    const hashes = await execAll<Record<string, string>>(pipe);
    const records: BulkUpgradeRecord[] = [];
    const gone: string[] = [];
    hashes.forEach((h, k) => {
      const r = decode(h);
      if (r) records.push(r);
      else gone.push(ids[k]!);
    });
    return { records, gone };
  }

  /**
   * Deletes what is left of expired bulk upgrades of `appId` (records, lists, index entries): the
   * global entries first (two single-key commands), then the app's keys in one MULTI (one hash
   * slot), the app's list of ids last of all, so a failure part way leaves the ids listed as gone
   * and the next `list` + `forget` finishes.
   */
  async forget(appId: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const k = this.keys;
    await execAll(
      crossSlotPipeline(this.redis)
        .hdel(k.bulkUpgradeIndex(), ...ids)
        .hdel(k.bulkUpgradesRunning(), ...ids),
    );
    const pipe = this.redis.multi();
    for (const id of ids)
      pipe.unlink(
        k.bulkUpgrade(appId, id),
        k.bulkUpgradeCandidates(appId, id),
        k.bulkUpgradeRequested(appId, id),
        k.bulkUpgradeOutcomes(appId, id),
      );
    pipe.zrem(k.bulkUpgrades(appId), ...ids);
    await execAll(pipe);
  }

  /** Ids `start … end` (inclusive) of the scope: the requested list, or the app's installation list. */
  scopeIds(b: Pick<BulkUpgradeRecord, 'appId' | 'id' | 'explicit'>, start: number, end: number): Promise<string[]> {
    const key = b.explicit ? this.keys.bulkUpgradeRequested(b.appId, b.id) : this.keys.installationIds(b.appId);
    return this.redis.lrange(key, start, end);
  }

  /** How many candidates are listed so far. */
  candidateLength(appId: string, id: string): Promise<number> {
    return this.redis.llen(this.keys.bulkUpgradeCandidates(appId, id));
  }

  /**
   * Candidates `start … end` (inclusive) that have no outcome yet, with their versions, approvals
   * and maintenance windows (null where absent), in one call (readBulkBatch-4.lua).
   */
  async readBatch(
    b: Pick<BulkUpgradeRecord, 'appId' | 'id'>,
    start: number,
    end: number,
  ): Promise<{
    ids: string[];
    versions: (string | null)[];
    approved: (string | null)[];
    windows: (MaintenanceWindows | null)[];
  }> {
    const k = this.keys;
    const reply = await this.redis.mpuReadBulkBatch(
      k.bulkUpgradeCandidates(b.appId, b.id),
      k.bulkUpgradeOutcomes(b.appId, b.id),
      k.installationApproved(b.appId),
      k.installationData(b.appId),
      start,
      end,
    );
    const [ids, v, a, d] = columnsOf<[string[], string[], string[], string[]]>('readBulkBatch', reply, 4);
    return {
      ids,
      versions: v.map((x) => x || null),
      approved: a.map((x) => x || null),
      // The installation's record JSON (`{s, p, c, m}`); '' when it has no windows.
      windows: d.map((j) => (j ? ((JSON.parse(j) as { m?: MaintenanceWindows | null }).m ?? null) : null)),
    };
  }

  /**
   * Appends one planned chunk: `candidates`, `skips` recorded, cursor `from` → `to` (atomic).
   * @returns `ok`, `moved` (another planner did it) or `stopped` (not running)
   */
  async pushCandidates(
    appId: string,
    id: string,
    from: number,
    to: number,
    candidates: readonly string[],
    skips: readonly { id: string; reason: BulkSkipReason }[],
  ): Promise<'ok' | 'moved' | 'stopped'> {
    const reply = await this.redis.mpuPushBulkCandidates(
      this.keys.bulkUpgrade(appId, id),
      this.keys.bulkUpgradeCandidates(appId, id),
      this.keys.bulkUpgradeOutcomes(appId, id),
      from,
      to,
      skips.length,
      ...skips.flatMap((s) => [s.id, s.reason]),
      ...candidates,
    );
    if (reply === 1) return 'ok';
    if (reply === 0) return 'moved';
    if (reply === -1) return 'stopped';
    throw new UnexpectedScriptReply('pushBulkCandidates', reply);
  }

  /**
   * Plans the next chunk of a bulk upgrade whose scope is the app's installation list, inside
   * Redis (planBulkChunk-4.lua): up to `chunk` positions from `cursor`, those on the source
   * major appended to the candidates, the cursor advanced (atomic).
   * @returns `{ read, candidates }`, `moved` (another planner did it) or `stopped` (not running)
   */
  async planChunk(
    b: Pick<BulkUpgradeRecord, 'appId' | 'id' | 'from'>,
    cursor: number,
    chunk: number,
  ): Promise<{ read: number; candidates: number } | 'moved' | 'stopped'> {
    const k = this.keys;
    const reply = await this.redis.mpuPlanBulkChunk(
      k.bulkUpgrade(b.appId, b.id),
      k.bulkUpgradeCandidates(b.appId, b.id),
      k.installationIds(b.appId),
      k.installationData(b.appId),
      cursor,
      chunk,
      b.from,
    );
    if (!Array.isArray(reply) || reply.length !== 3) throw new UnexpectedScriptReply('planBulkChunk', reply);
    const [state, read, candidates] = reply.map(Number) as [number, number, number];
    if (state === 1) return { read, candidates };
    if (state === 0) return 'moved';
    if (state === -1) return 'stopped';
    throw new UnexpectedScriptReply('planBulkChunk', reply);
  }

  /** Marks the plan done. @returns `ok`, `finished` (completed now: nothing left) or `stopped` */
  async finishPlan(
    appId: string,
    id: string,
    at: number,
    ttlMs: number,
    expiresAt: number,
  ): Promise<'ok' | 'finished' | 'stopped'> {
    const reply = await this.redis.mpuFinishBulkPlan(...this.recordKeys(appId, id), at, ttlMs, expiresAt);
    if (reply === 'ok' || reply === 'finished' || reply === 'stopped') return reply;
    throw new UnexpectedScriptReply('finishBulkPlan', reply);
  }

  /**
   * The compare-and-set of one batch, in calls of 2,000 lines (see applyBulkMoves-6.lua).
   * @param at clock ms; `ttlMs` real ms; `expiresAt` clock ms
   */
  async applyMoves(
    b: Pick<BulkUpgradeRecord, 'appId' | 'id' | 'toVersion'>,
    lines: readonly BulkMoveLine[],
    at: number,
    ttlMs: number,
    expiresAt: number,
  ): Promise<AppliedBulkMoves> {
    const k = this.keys;
    const total: AppliedBulkMoves = { state: 'ok', moved: 0, skipped: 0, conflicts: 0 };
    for (let i = 0; i === 0 || i < lines.length; i += 2000) {
      let packed = '';
      for (const l of lines.slice(i, i + 2000))
        packed += 'skip' in l ? `${l.id}\t!${l.skip}\n` : `${l.id}\t${l.expected}\n`;
      const reply = await this.redis.mpuApplyBulkMoves(
        k.installationData(b.appId),
        k.versionDistribution(b.appId),
        k.bulkUpgradeOutcomes(b.appId, b.id),
        k.bulkUpgrade(b.appId, b.id),
        k.bulkUpgradeCandidates(b.appId, b.id),
        k.bulkUpgradeRequested(b.appId, b.id),
        at,
        b.id,
        b.toVersion,
        ttlMs,
        expiresAt,
        packed,
      );
      if (!Array.isArray(reply) || reply.length !== 4) throw new UnexpectedScriptReply('applyBulkMoves', reply);
      const [state, moved, skipped, conflicts] = reply;
      if (state !== 'ok' && state !== 'finished' && state !== 'stopped')
        throw new UnexpectedScriptReply('applyBulkMoves', reply);
      total.moved += Number(moved);
      total.skipped += Number(skipped);
      total.conflicts += Number(conflicts);
      if (state !== 'ok') {
        total.state = state;
        break;
      }
    }
    return total;
  }

  /** Cancels. @returns `ok`, `finished` (not running) or `missing` */
  async cancel(
    appId: string,
    id: string,
    at: number,
    ttlMs: number,
    expiresAt: number,
  ): Promise<'ok' | 'finished' | 'missing'> {
    const reply = await this.redis.mpuCancelBulkUpgrade(...this.recordKeys(appId, id), at, ttlMs, expiresAt);
    if (reply === 'ok' || reply === 'finished' || reply === 'missing') return reply;
    throw new UnexpectedScriptReply('cancelBulkUpgrade', reply);
  }

  private recordKeys(appId: string, id: string): [string, string, string, string] {
    const k = this.keys;
    return [
      k.bulkUpgrade(appId, id),
      k.bulkUpgradeOutcomes(appId, id),
      k.bulkUpgradeCandidates(appId, id),
      k.bulkUpgradeRequested(appId, id),
    ];
  }
}
