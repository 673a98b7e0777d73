/**
 * Redis store of rollouts: one hash per app version with its status and plan summary, the
 * plan's buckets as Redis lists of installation ids (so upgrade jobs carry a range, not a
 * million ids), and an index of rollouts by publication time. Layout in keys.ts.
 *
 * Status changes follow the pure state machine of src/rollout/rollout-status.ts: the store
 * reads the status, computes the next one there and writes it with a compare-and-set script
 * (commands/setRolloutStatus-1.lua, commands/finishPlanning-2.lua), reading again when the
 * status moved in between.
 */
import type { RedisConnection } from '../lib/redis-connection.js';
import semver from 'semver';
import { AppError, ErrorCode } from '../lib/errors.js';
import type { PlanBucket, PlanSummary } from '../rollout/plan-rollout.js';
import type { AppKind, Approval, Bump } from '../versioning/types.js';
import {
  completePlanning,
  transitionRollout,
  type RolloutAction,
  type RolloutStatus,
  type RolloutStatusState,
} from '../rollout/rollout-status.js';
import { pausePhases, resumePhases, type PhaseState } from '../rollout/phased-release.js';
import type { Keys } from './keys.js';
import { execAll } from '../lib/exec-all.js';
import {
  bucketsPushed,
  installationListPlanned,
  failureRecorded,
  flagOf,
  phasesSet,
  planningFinished,
  rolloutActionRefused,
  rolloutNotFound,
  rolloutStatusContended,
  rolloutStatusSet,
} from './script-results.js';
import { defineScripts, scriptedPipeline, type ScriptedRedis } from './scripts.js';
import { crossSlotPipeline } from '../lib/redis-connection.js';

export type { RolloutStatus } from '../rollout/rollout-status.js';

/**
 * A planned bucket's kind: `upgrade` and `notify` buckets hold their ids in a list of their own;
 * an `installations` bucket is an upgrade bucket whose ids are the app's installation list
 * (`RolloutStore.planInstallationList`).
 */
export type BucketKind = 'upgrade' | 'notify' | 'installations';

/**
 * How many times a status compare-and-set reads again after the status moved under it (an
 * operator's action racing a plan's end): each retry follows a change, so a few suffice.
 */
const STATUS_ATTEMPTS = 5;

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
  /** The phased release of this rollout (rollout/phased-release.ts); absent when unphased. */
  phases?: PhaseState;
  /** The pause in progress: when (epoch ms), by whom (`system` for the error budget) and why; absent when not paused. */
  pause?: RolloutPause;
}

/** Who paused a rollout, when and why. */
export interface RolloutPause {
  at: number;
  /** The operator (token or CLI actor), or `system`. */
  by: string;
  reason: string;
}

/** Who asks for a status change, and why (recorded with a pause). */
export interface TransitionBy {
  at: number;
  by: string;
  reason?: string;
}

/** One reported failed upgrade (the error budget). */
export interface RolloutFailure {
  installationId: string;
  at: number;
  by: string;
  reason: string;
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
  if (at <= 0 || at === id.length - 1)
    throw new AppError(ErrorCode.INPUT_INVALID, `rollout id '${id}' should look like APP@VERSION, e.g. my-app@1.0.3`);
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
    ...(r.phases ? { phases: JSON.stringify(r.phases) } : {}),
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
    ...(h.phases ? { phases: JSON.parse(h.phases) as PhaseState } : {}),
    ...(h.pause ? { pause: JSON.parse(h.pause) as RolloutPause } : {}),
  };
}

/** Redis rollout store. */
export class RolloutStore {
  private readonly redis: ScriptedRedis;
  constructor(
    redis: RedisConnection,
    readonly keys: Keys,
  ) {
    this.redis = defineScripts(redis);
  }

  /**
   * Creates the rollout if absent (idempotent: a second plan job of the same version finds it).
   * @returns the stored record (null when it was deleted right after, with its app) and whether
   *   this call created it
   */
  async create(r: Omit<RolloutRecord, 'id'>): Promise<{ record: RolloutRecord | null; created: boolean }> {
    const key = this.keys.rollout(r.appId, r.version);
    const id = rolloutId(r.appId, r.version);
    // Two hash slots, two steps: the rollouts index first (idempotent: the same member and
    // score), then the record, created with all its fields only if absent
    // (commands/createRecord-1.lua). A failure between the two leaves an index entry without a
    // record, which readers skip (`list`) and the plan job, retried, completes.
    await this.redis.zadd(this.keys.rollouts(), r.publishedAt, id);
    const created = flagOf(
      'createRecord',
      await this.redis.mpuCreateRecord(key, 'appId', ...Object.entries(toHash({ ...r, id })).flat()),
    );
    return { record: await this.get(r.appId, r.version), created };
  }

  /**
   * Deletes one rollout: its hash, its plan buckets and its index entry. For a plan that finds
   * its app removed just after creating the rollout (rollout.worker.ts); `mpu apps remove`
   * deletes whole apps (app-remover.ts).
   */
  async discard(appId: string, version: string): Promise<void> {
    await this.clearBuckets(appId, version);
    // The record, then its index entry (an entry without a record is skipped by readers).
    await this.redis.unlink(this.keys.rollout(appId, version));
    await this.redis.zrem(this.keys.rollouts(), rolloutId(appId, version));
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
   * Status transition: `pause`, `resume` or `halt`, by the rule of `transitionRollout`
   * (src/rollout/rollout-status.ts), applied as a compare-and-set of the status.
   * @returns the status after the action
   * @throws AppError `rollout-not-found`; `rollout-conflict` when resuming or pausing a halted
   *   rollout, or (retryable) when the status kept moving under `STATUS_ATTEMPTS` attempts
   */
  async transition(appId: string, version: string, action: RolloutAction, by?: TransitionBy): Promise<RolloutStatus> {
    return (await this.transitionWith(appId, version, action, by)).status;
  }

  /**
   * `transition`, also telling whether this call changed the status. With `by`, a pause records
   * who paused and why (`pause`), and a phased release's pause time moves with the status
   * (rollout/phased-release.ts `pausePhases`, `resumePhases`), in the same compare-and-set.
   * @throws as `transition`
   */
  async transitionWith(
    appId: string,
    version: string,
    action: RolloutAction,
    by?: TransitionBy,
  ): Promise<{ status: RolloutStatus; changed: boolean }> {
    const id = rolloutId(appId, version);
    const key = this.keys.rollout(appId, version);
    for (let attempt = 0; attempt < STATUS_ATTEMPTS; attempt++) {
      const current = await this.readStatus(key);
      if (!current) throw rolloutNotFound(id);
      const t = transitionRollout(current, action);
      if (!t.ok) throw rolloutActionRefused(id, t.status, action);
      if (!t.changed) return { status: t.next.status, changed: false };
      const extra: string[] = [];
      if (by) {
        const raw = current.phases;
        let phases = raw ? (JSON.parse(raw) as PhaseState) : null;
        if (phases && action === 'pause') phases = pausePhases(phases, by.at);
        if (phases && action !== 'pause') phases = resumePhases(phases, by.at);
        const pause: RolloutPause | null =
          action === 'pause' ? { at: by.at, by: by.by, reason: by.reason ?? 'paused by an operator' } : null;
        extra.push(raw ?? '', 'pause', pause ? JSON.stringify(pause) : '');
        if (phases) extra.push('phases', JSON.stringify(phases));
      }
      const res = rolloutStatusSet(await this.redis.mpuSetRolloutStatus(key, ...casArgs(current, t.next), ...extra));
      if (res === 'ok') return { status: t.next.status, changed: true };
      if (res === 'missing') throw rolloutNotFound(id);
    }
    throw rolloutStatusContended(id, STATUS_ATTEMPTS);
  }

  /**
   * Compare-and-set of the phased-release state (commands/setPhases-1.lua): `update` computes the
   * new state from the stored one (null: nothing to write), read again while another writer
   * (a step, a pause) moves it under.
   * @returns the state written (or the stored one when `update` wrote nothing); null when the
   *   rollout is halted or gone
   * @throws AppError `rollout-conflict` (retryable) when it kept moving under `STATUS_ATTEMPTS` attempts
   */
  async setPhases(
    appId: string,
    version: string,
    update: (current: PhaseState | null) => PhaseState | null,
  ): Promise<PhaseState | null> {
    const key = this.keys.rollout(appId, version);
    for (let attempt = 0; attempt < STATUS_ATTEMPTS; attempt++) {
      const raw = (await this.redis.hget(key, 'phases')) ?? '';
      const current = raw ? (JSON.parse(raw) as PhaseState) : null;
      const next = update(current);
      if (next === null) return current;
      const res = phasesSet(await this.redis.mpuSetPhases(key, raw, JSON.stringify(next)));
      if (res === 'ok') return next;
      if (res !== 'stale') return null;
    }
    throw rolloutStatusContended(rolloutId(appId, version), STATUS_ATTEMPTS);
  }

  /**
   * Records a failed upgrade of `installationId` in the rollout, once per installation.
   * @returns whether this call added it and the rollout's failures now
   * @throws AppError `rollout-not-found`; `installation-not-found` when it is not the app's
   */
  async recordFailure(
    appId: string,
    version: string,
    failure: RolloutFailure,
  ): Promise<{ added: boolean; failures: number }> {
    const reply = await this.redis.mpuRecordFailure(
      this.keys.rollout(appId, version),
      this.keys.rolloutFailures(appId, version),
      this.keys.installationData(appId),
      failure.installationId,
      JSON.stringify({ at: failure.at, by: failure.by, reason: failure.reason }),
    );
    const r = failureRecorded(reply);
    if (r === 'missing') throw rolloutNotFound(rolloutId(appId, version));
    if (r === 'unknown')
      throw new AppError(
        ErrorCode.INSTALLATION_NOT_FOUND,
        `installation ${failure.installationId} is not an installation of ${appId}`,
      );
    return r;
  }

  /** How many failed upgrades were reported in the rollout. */
  failureCount(appId: string, version: string): Promise<number> {
    return this.redis.hlen(this.keys.rolloutFailures(appId, version));
  }

  /** The reported failures of the rollout (newest first, at most `limit`). */
  async failures(appId: string, version: string, limit = 100): Promise<RolloutFailure[]> {
    const h = await this.redis.hgetall(this.keys.rolloutFailures(appId, version));
    return Object.entries(h)
      .map(([installationId, json]) => ({
        installationId,
        ...(JSON.parse(json) as Omit<RolloutFailure, 'installationId'>),
      }))
      .sort((a, b) => b.at - a.at)
      .slice(0, limit);
  }

  /**
   * Status and phase percentage of the rollouts of `versions` of one app (nulls where none
   * exists; `percent` null when unphased): what an upgrade batch's ladder needs, in one round trip.
   */
  async gates(
    appId: string,
    versions: readonly string[],
  ): Promise<{ status: RolloutStatus | null; percent: number | null }[]> {
    if (versions.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const v of versions) pipe.hmget(this.keys.rollout(appId, v), 'status', 'phases');
    const rows = await execAll<(string | null)[]>(pipe);
    return rows.map(([status, phases]) => {
      if (!phases) return { status: status as RolloutStatus | null, percent: null };
      const p = JSON.parse(phases) as PhaseState;
      return { status: status as RolloutStatus | null, percent: p.schedule.percents[p.phase] ?? 100 };
    });
  }

  /**
   * The phased-release state of the rollouts of `versions` of one app (null where unphased or
   * none exists), in one round trip.
   */
  async phaseStates(appId: string, versions: readonly string[]): Promise<(PhaseState | null)[]> {
    if (versions.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const v of versions) pipe.hget(this.keys.rollout(appId, v), 'phases');
    const rows = await execAll<string | null>(pipe);
    return rows.map((phases) => (phases ? (JSON.parse(phases) as PhaseState) : null));
  }

  /**
   * Status and `resumeTo` of the rollout hash at `key` (and its raw `phases`, null when
   * unphased), or null when it has no status (no rollout).
   */
  private async readStatus(key: string): Promise<(RolloutStatusState & { phases: string | null }) | null> {
    const [status, resumeTo, phases] = await this.redis.hmget(key, 'status', 'resumeTo', 'phases');
    return status
      ? {
          status: status as RolloutStatus,
          resumeTo: (resumeTo || null) as RolloutStatus | null,
          phases: phases || null,
        }
      : null;
  }

  /**
   * Stores the plan summary and ends planning, atomically, if the plan's cursor has reached the
   * end of the app's installation list. The status becomes that of `completePlanning`
   * (src/rollout/rollout-status.ts: a pause or halt that came meanwhile wins), written as a
   * compare-and-set of the status.
   * @param at end of planning, epoch ms
   * @returns the status; `behind` when installations were registered since the plan's last read
   *   (plan them, then call again); null when the rollout no longer exists (its app was removed):
   *   nothing is written then
   * @throws AppError `rollout-conflict` (retryable) when the status kept moving under
   *   `STATUS_ATTEMPTS` attempts
   */
  async finishPlanning(
    appId: string,
    version: string,
    summary: PlanSummary,
    batches: number,
    status: RolloutStatus,
    at: number,
  ): Promise<RolloutStatus | 'behind' | null> {
    const key = this.keys.rollout(appId, version);
    for (let attempt = 0; attempt < STATUS_ATTEMPTS; attempt++) {
      const current = await this.readStatus(key);
      if (!current) return null;
      const next = completePlanning(current, status);
      const reply = await this.redis.mpuFinishPlanning(
        key,
        this.keys.installationIds(appId),
        JSON.stringify(summary),
        batches,
        at,
        ...casArgs(current, next),
      );
      const res = planningFinished(reply);
      if (res === 'ok') return next.status;
      if (res === 'behind') return 'behind';
      if (res === 'missing') return null;
    }
    throw rolloutStatusContended(rolloutId(appId, version), STATUS_ATTEMPTS);
  }

  /**
   * What the late planner needs of the rollouts of `versions` (one app): status, whether the plan
   * finished (`plannedAt`, epoch ms) and its cursor (`planCursor`: installations `0 … planCursor-1`
   * of the registration list are planned; final once `plannedAt` is set). Nulls where no rollout
   * exists.
   */
  async planStates(
    appId: string,
    versions: readonly string[],
  ): Promise<({ status: RolloutStatus; plannedAt: number | null; planCursor: number } | null)[]> {
    if (versions.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const v of versions) pipe.hmget(this.keys.rollout(appId, v), 'status', 'plannedAt', 'planCursor');
    const rows = await execAll<(string | null)[]>(pipe);
    return rows.map(([status, plannedAt, cursor]) =>
      status
        ? {
            status: status as RolloutStatus,
            plannedAt: plannedAt ? Number(plannedAt) : null,
            planCursor: Number(cursor ?? 0),
          }
        : null,
    );
  }

  /** Marks `older` rollouts of the app as superseded by `version` (informational; only rollouts that still exist). */
  async markSuperseded(appId: string, version: string): Promise<void> {
    const ids = await this.redis.zrange(this.keys.rollouts(), 0, -1);
    const pipe = scriptedPipeline(this.redis);
    for (const id of ids) {
      const r = parseRolloutId(id);
      if (r.appId === appId && semver.valid(r.version) && semver.lt(r.version, version)) {
        // Informational, and only where the rollout still exists (commands/markSuperseded-1.lua).
        pipe.mpuMarkSuperseded(this.keys.rollout(appId, r.version), version);
      }
    }
    for (const reply of await execAll(pipe)) flagOf('markSuperseded', reply);
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
  async pushBuckets(
    appId: string,
    version: string,
    buckets: readonly PlanBucket[],
    cursor: number,
    expected?: number,
  ): Promise<boolean> {
    const keys = [this.keys.rolloutBuckets(appId, version), this.keys.rollout(appId, version)];
    const args: string[] = [String(cursor), expected === undefined ? '' : String(expected)];
    for (const b of buckets) {
      keys.push(this.keys.rolloutBucket(appId, version, b.kind, b.at));
      args.push(`${b.kind}:${b.at}`, b.ids.join('\n'));
    }
    const reply = await this.redis.mpuPushBuckets(keys.length, ...keys, ...args);
    return bucketsPushed(reply, rolloutId(appId, version), expected);
  }

  /**
   * Plans the whole installation list as one bucket (commands/planInstallationList-6.lua): a
   * bucket of kind `installations` at `at` (epoch ms) whose ids are the app's installation list,
   * positions 0 to `size` - 1, and the plan cursor moved to `size`, in one atomic step, with the
   * app's version distribution read in the same step (what those positions run: the plan's
   * summary). For a plan in which every installation without windows gets the same step at the
   * same time (app/rollout/plan-version-rollout.ts), so no id is read or copied; the same step
   * checks that the app has no installation with maintenance windows (its windowed set,
   * InstallationStore.windowedCount) and, when the app has approvals, none running a version of
   * `approvalSensitive` (whose step an approval can change).
   * @param expected the cursor the caller planned from (nothing is written when it moved)
   * @returns the bucket's size and the distribution (version → installations); `gone` when the
   *   rollout no longer exists; `per-installation` when an installation has windows, or runs a
   *   version of `approvalSensitive` while the app has approvals (nothing written: plan
   *   installation by installation)
   * @throws AppError rollout-conflict (retryable) when another planner moved the cursor
   */
  async planInstallationList(
    appId: string,
    version: string,
    at: number,
    expected: number,
    approvalSensitive: readonly string[] = [],
  ): Promise<{ size: number; distribution: Map<string, number> } | 'gone' | 'per-installation'> {
    const reply = await this.redis.mpuPlanInstallationList(
      this.keys.rolloutBuckets(appId, version),
      this.keys.rollout(appId, version),
      this.keys.installationIds(appId),
      this.keys.versionDistribution(appId),
      this.keys.installationWindowed(appId),
      this.keys.installationApproved(appId),
      at,
      expected,
      approvalSensitive.join('\n'),
    );
    return installationListPlanned(reply, rolloutId(appId, version), expected);
  }

  /**
   * The list that holds a bucket's ids: the bucket's own list, or for a bucket of kind
   * `installations` (`planInstallationList`) the app's installation list itself.
   */
  bucketList(appId: string, version: string, kind: BucketKind, at: number): string {
    return kind === 'installations'
      ? this.keys.installationIds(appId)
      : this.keys.rolloutBucket(appId, version, kind, at);
  }

  /** Installations planned so far (0 before planning starts). */
  async planCursor(appId: string, version: string): Promise<number> {
    return Number((await this.redis.hget(this.keys.rollout(appId, version), 'planCursor')) ?? 0);
  }

  /**
   * Planned buckets: kind, time and size, by time. Kind `installations` is an upgrade bucket whose
   * ids are the app's installation list (`planInstallationList`; read it through `bucketList`).
   */
  async listBuckets(appId: string, version: string): Promise<{ kind: BucketKind; at: number; size: number }[]> {
    const h = await this.redis.hgetall(this.keys.rolloutBuckets(appId, version));
    return Object.entries(h)
      .map(([k, n]) => {
        const [kind, at] = k.split(':');
        return { kind: kind as BucketKind, at: Number(at), size: Number(n) };
      })
      .sort((a, b) => a.at - b.at);
  }

  /**
   * How far (clock ms) the reconciliation sweep has checked this rollout's buckets; -Infinity
   * before its first sweep.
   */
  async reconcileMark(appId: string, version: string): Promise<number> {
    const raw = await this.redis.hget(this.keys.reconcileMarks(appId), version);
    return raw === null ? -Infinity : Number(raw);
  }

  /**
   * Records that the sweep checked this rollout's buckets up to `at` (clock ms). The mark is
   * written, then taken back if the rollout is gone by then: an app removal (which deletes the
   * app's keys, this one included) that ran while the sweep read the buckets would otherwise
   * find its key written again after it. A removal that starts after the check deletes the mark
   * itself.
   */
  async setReconcileMark(appId: string, version: string, at: number): Promise<void> {
    const marks = this.keys.reconcileMarks(appId);
    await this.redis.hset(marks, version, String(at));
    if (!(await this.redis.exists(this.keys.rollout(appId, version)))) await this.redis.hdel(marks, version);
  }

  /**
   * The reconciliation sweep's late mark of a rollout: the registration-list position below which
   * every late installation of `version` (at or above its plan's final cursor) was found settled,
   * running `version` or newer (app/rollout/reconcile.ts). 0 when none was recorded. Kept in the
   * same hash as `reconcileMark`, field `late:<version>` (a version never starts with `late:`).
   */
  async lateMark(appId: string, version: string): Promise<number> {
    const raw = await this.redis.hget(this.keys.reconcileMarks(appId), `late:${version}`);
    return raw === null ? 0 : Number(raw);
  }

  /**
   * Records the late mark (a position, see `lateMark`); taken back, as `setReconcileMark` does,
   * when the rollout is gone by then (an app removal ran meanwhile).
   */
  async setLateMark(appId: string, version: string, position: number): Promise<void> {
    const marks = this.keys.reconcileMarks(appId);
    await this.redis.hset(marks, `late:${version}`, String(position));
    if (!(await this.redis.exists(this.keys.rollout(appId, version)))) await this.redis.hdel(marks, `late:${version}`);
  }

  /** Deletes the planned buckets (a restarted plan, or a halt). */
  async clearBuckets(appId: string, version: string): Promise<void> {
    // A bucket of kind `installations` has no list of its own (its ids are the installation list).
    const buckets = (await this.listBuckets(appId, version)).filter((b) => b.kind !== 'installations');
    const keys = buckets.map((b) => this.keys.rolloutBucket(appId, version, b.kind, b.at));
    for (let i = 0; i < keys.length; i += 500) await this.redis.unlink(...keys.slice(i, i + 500));
    await this.redis.unlink(this.keys.rolloutBuckets(appId, version), this.keys.rolloutDeferrals(appId, version));
  }

  /** Lets the plan's bucket lists expire in `seconds` (a completed rollout). Idempotent. */
  async expireBuckets(appId: string, version: string, seconds: number): Promise<void> {
    const key = this.keys.rolloutBuckets(appId, version);
    if ((await this.redis.ttl(key)) >= 0) return; // already expiring
    const buckets = (await this.listBuckets(appId, version)).filter((b) => b.kind !== 'installations');
    const pipe = this.redis.pipeline();
    for (const b of buckets) pipe.expire(this.keys.rolloutBucket(appId, version, b.kind, b.at), seconds);
    pipe.expire(key, seconds);
    pipe.expire(this.keys.rolloutDeferrals(appId, version), seconds);
    await execAll(pipe);
  }

  /** Ids `start … end` (inclusive) of one bucket. */
  bucketRange(appId: string, version: string, kind: string, at: number, start: number, end: number): Promise<string[]> {
    return this.redis.lrange(this.keys.rolloutBucket(appId, version, kind, at), start, end);
  }

  /** Rollouts, newest publication first. */
  async list(opts: { appId?: string; limit?: number } = {}): Promise<RolloutRecord[]> {
    const ids = await this.redis.zrevrange(this.keys.rollouts(), 0, -1);
    const wanted = ids
      .map(parseRolloutId)
      .filter((r) => !opts.appId || r.appId === opts.appId)
      .slice(0, opts.limit ?? 100);
    const pipe = crossSlotPipeline(this.redis);
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

/** The compare-and-set arguments: expected status and resumeTo, then the new ones ('' = no resumeTo). */
function casArgs(current: RolloutStatusState, next: RolloutStatusState): [string, string, string, string] {
  return [current.status, current.resumeTo ?? '', next.status, next.resumeTo ?? ''];
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
