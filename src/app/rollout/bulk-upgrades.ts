/**
 * Bulk major-version upgrades (`forge version bulk-upgrade` start / list / cancel; DESIGN.md
 * "Distribution rules", seeds 000 and 001): every installation of a Forge app on an older major
 * version moves to a newer major's version without admin approval, when the upgrade is
 * eligible, within the concurrency limits. Unlike Atlassian's (500 installations a request), a
 * request takes any number.
 *
 * Execution is the rollout engine's: a plan job lists the candidates (installations of the scope
 * on the source major) into the store, resumable at its cursor, and enqueues one batch job per
 * range of them; each batch moves its installations with a compare-and-set that also records
 * each installation's outcome once (store: applyBulkMoves-6.lua), so a batch killed, redelivered
 * or run by two daemons moves every installation at most once, and counts it once. Maintenance
 * windows defer a move as they defer any upgrade (at most 4 h). Each move is recorded in the
 * installation's history with the bulk upgrade's id as its cause.
 */
import { randomUUID } from 'node:crypto';
import semver from 'semver';
import { AppError, ErrorCode } from '../../lib/errors.js';
import {
  BULK_SKIP_REASONS,
  BULK_SKIP_WORDS,
  bulkPending,
  checkBulkLimits,
  decideBulkMove,
  type BulkSkipReason,
} from '../../rollout/bulk-upgrade.js';
import { checkBulkUpgrade } from '../../versioning/index.js';
import type { BulkBatchJob, BulkPlanJob } from '../../jobs/queues.js';
import type { BulkMoveLine, BulkUpgradeRecord } from '../../store/bulk-upgrade-store.js';
import type { VersionRecord } from '../../store/types.js';
import type { AppContext } from '../context.js';
import type { BatchWait } from './upgrade-batch.js';

/** What the bulk upgrade use cases read. */
export type BulkContext = Pick<
  AppContext,
  | 'clock'
  | 'logger'
  | 'apps'
  | 'versions'
  | 'descriptors'
  | 'installs'
  | 'bulkUpgrades'
  | 'settings'
  | 'rolloutPolicy'
  | 'metrics'
  | 'events'
  | 'enqueueBulkPlan'
  | 'enqueueBulkBatches'
>;

/** A request to start a bulk upgrade. */
export interface BulkUpgradeRequest {
  appId: string;
  /** Forge environment, e.g. `production`. */
  environment: string;
  /** Source and target major versions. */
  from: number;
  to: number;
  /** Only these installations (any number); absent: every installation of the app on the source major. */
  installations?: readonly string[];
  /** The developer account starting it (an API token's name, `--account`, or the CLI user). */
  account: string;
}

/** A bulk upgrade as `start`, `list` and `cancel` show it. Times ISO 8601. */
export interface BulkUpgradeView {
  id: string;
  appId: string;
  environment: string;
  account: string;
  status: BulkUpgradeRecord['status'];
  /** The version installations move from (the source major's newest) and to. */
  from: string;
  to: string;
  fromMajor: number;
  toMajor: number;
  /** Installations in scope; `completed` moved, `failed` skipped (by reason in `failures`), `pending` neither yet. */
  total: number;
  completed: number;
  pending: number;
  failed: number;
  failures: Partial<Record<BulkSkipReason, number>>;
  /** Whether the candidate list is complete (`total` final). */
  planned: boolean;
  startedAt: string;
  completedAt: string | null;
  /** When this record is deleted (finished ones only). */
  expiresAt: string | null;
}

/** What `--dry-run` reports: how many would move, and why any would not. */
export interface BulkUpgradeDryRun {
  dryRun: true;
  appId: string;
  environment: string;
  from: string;
  to: string;
  fromMajor: number;
  toMajor: number;
  /** Installations that would move now or at the end of their maintenance window. */
  wouldMove: number;
  /** Of `wouldMove`, those a maintenance window defers (≤ 4 h). */
  deferred: number;
  /** Installations that would not move, by reason, with the reason in words. */
  wouldFail: { reason: BulkSkipReason; count: number; words: string }[];
  /** The concurrency limit that would refuse a start now, in words, or null. */
  refusedBy: string | null;
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/** The record as people and clients see it. Pure. */
export function toBulkView(r: BulkUpgradeRecord): BulkUpgradeView {
  return {
    id: r.id,
    appId: r.appId,
    environment: r.environment,
    account: r.account,
    status: r.status,
    from: r.fromVersion,
    to: r.toVersion,
    fromMajor: r.from,
    toMajor: r.to,
    total: r.total,
    completed: r.completed,
    pending: r.status === 'completed' ? 0 : bulkPending(r),
    failed: r.failed,
    failures: r.skipped,
    planned: r.planned,
    startedAt: new Date(r.startedAt).toISOString(),
    completedAt: iso(r.completedAt),
    expiresAt: iso(r.expiresAt),
  };
}

function refused(message: string, details: Record<string, unknown>): AppError {
  return new AppError(ErrorCode.BULK_UPGRADE_REFUSED, message, { details });
}

/** Newest stored version of `major`, or null. */
function newestOfMajor(versions: readonly VersionRecord[], major: number): VersionRecord | null {
  let best: VersionRecord | null = null;
  for (const v of versions) {
    const p = semver.parse(v.version);
    if (p && p.major === major && (!best || semver.gt(v.version, best.version))) best = v;
  }
  return best;
}

/**
 * The eligibility of `req` (seeds 000/001 "Requirements for eligibility"): a Forge app, the
 * production environment (the only one whose deploys create versions: DESIGN.md "Detection
 * rules"), a stored version of each major, and `checkBulkUpgrade` on the source major's newest
 * version and the target major's newest (permissions only change with a major version).
 * @throws AppError app-not-found; bulk-upgrade-refused with every reason in words
 *   (`details.reasons`: `{ code, detail }[]`)
 */
async function judgeEligibility(
  ctx: BulkContext,
  req: Pick<BulkUpgradeRequest, 'appId' | 'environment' | 'from' | 'to'>,
): Promise<{ source: VersionRecord; target: VersionRecord }> {
  const app = await ctx.apps.requireApp(req.appId);
  const reasons: { code: string; detail: string }[] = [];
  if (app.kind !== 'forge') reasons.push({ code: 'kind', detail: 'bulk upgrades apply to Forge apps only' });
  if (req.environment !== 'production')
    reasons.push({
      code: 'environment',
      detail: `only production deploys create versions: environment '${req.environment}' has none to upgrade between`,
    });
  if (req.to <= req.from)
    reasons.push({
      code: 'version',
      detail: `target major version ${req.to} is not greater than source major version ${req.from}`,
    });
  const all = await ctx.versions.listVersions(req.appId);
  const source = newestOfMajor(all, req.from);
  const target = newestOfMajor(all, req.to);
  if (!source) reasons.push({ code: 'version', detail: `no version of major ${req.from} is stored` });
  if (!target) reasons.push({ code: 'version', detail: `no version of major ${req.to} is stored` });
  if (source && target && app.kind === 'forge') {
    const [sm, tm] = await Promise.all([
      ctx.descriptors.getDescriptor(req.appId, source.descriptorHash, 'forge'),
      ctx.descriptors.getDescriptor(req.appId, target.descriptorHash, 'forge'),
    ]);
    const v = checkBulkUpgrade({
      source: { manifest: sm, version: source.version, environment: req.environment },
      target: { manifest: tm, version: target.version, environment: req.environment },
    });
    // The version order is judged above on the majors asked for.
    if (!v.eligible) reasons.push(...v.reasons.filter((r) => r.code !== 'version' || req.to > req.from));
  }
  if (reasons.length > 0 || !source || !target)
    throw refused(
      `bulk upgrade of ${req.appId} from major ${req.from} to ${req.to} is not eligible: ` +
        reasons.map((r) => r.detail).join('; '),
      { reasons },
    );
  return { source, target };
}

/**
 * The running bulk upgrades, without those whose record finished, expired or was never
 * written (a start that died between its claim and its record: given a minute).
 */
async function liveRunning(ctx: BulkContext) {
  const now = ctx.clock.now();
  const running = await ctx.bulkUpgrades.running();
  const stale: string[] = [];
  const live = [];
  for (const r of running) {
    const rec = await ctx.bulkUpgrades.get(r.appId, r.id);
    if (rec ? rec.status !== 'running' : now - r.claimedAt > 60_000) stale.push(r.id);
    else live.push(r);
  }
  await ctx.bulkUpgrades.release(...stale);
  return live;
}

/** Checks and de-duplicates an explicit list of installations. @throws AppError input-invalid */
function requestedIds(ids: readonly string[] | undefined): string[] | null {
  if (ids === undefined) return null;
  const out = [...new Set(ids.map((s) => s.trim()).filter((s) => s.length > 0))];
  if (out.length === 0) throw new AppError(ErrorCode.INPUT_INVALID, 'installations: give at least one id');
  const bad = out.find((s) => /[\t\n;|]/.test(s));
  if (bad) throw new AppError(ErrorCode.INPUT_INVALID, `installations: '${bad}' is not an installation id`);
  return out;
}

/**
 * Starts a bulk upgrade, or with `dryRun` reports what it would do and writes nothing.
 * @returns the new bulk upgrade (running; its plan job enqueued), or the dry run's report
 * @throws AppError app-not-found; input-invalid; bulk-upgrade-refused when not eligible (every
 *   reason, `details.reasons`) or when a limit refuses (`details.limit`: `environment`,
 *   `account` or `global`, the latter with `details.retryAfterSeconds` 1800)
 */
export async function startBulkUpgrade(
  ctx: BulkContext,
  req: BulkUpgradeRequest,
  opts: { dryRun?: boolean } = {},
): Promise<BulkUpgradeView | BulkUpgradeDryRun> {
  const requested = requestedIds(req.installations);
  const { source, target } = await judgeEligibility(ctx, req);
  const limits = () => ({ appId: req.appId, environment: req.environment, account: req.account });
  if (opts.dryRun) {
    const refusal = checkBulkLimits(await liveRunning(ctx), limits(), ctx.settings.bulkUpgradeLimit);
    return {
      ...(await dryRun(ctx, req, requested, target.version)),
      from: source.version,
      refusedBy: refusal?.message ?? null,
    };
  }
  const id = `bu-${randomUUID().slice(0, 13).replace('-', '')}`;
  for (let attempt = 0; ; attempt++) {
    const running = await liveRunning(ctx);
    const refusal = checkBulkLimits(running, limits(), ctx.settings.bulkUpgradeLimit);
    if (refusal) {
      const { message, ...details } = refusal;
      throw refused(message, details);
    }
    const at = ctx.clock.now();
    if (
      await ctx.bulkUpgrades.claim(
        running.map((r) => r.id),
        { id, ...limits() },
        at,
      )
    )
      break;
    if (attempt >= 10)
      throw new AppError(ErrorCode.ROLLOUT_CONFLICT, 'bulk upgrades started concurrently; retry', { retryable: true });
  }
  const startedAt = ctx.clock.now();
  await ctx.bulkUpgrades.create({
    id,
    appId: req.appId,
    environment: req.environment,
    account: req.account,
    from: req.from,
    to: req.to,
    fromVersion: source.version,
    toVersion: target.version,
    startedAt,
    scopeEnd: requested ? requested.length : await ctx.installs.count(req.appId),
    requested,
  });
  await ctx.enqueueBulkPlan({ v: 1, appId: req.appId, bulkId: id });
  ctx.logger.info(
    { event: 'bulk:started', appId: req.appId, bulkId: id, from: source.version, to: target.version },
    `bulk upgrade ${id} of ${req.appId} started: major ${req.from} -> ${target.version}`,
  );
  return toBulkView((await ctx.bulkUpgrades.get(req.appId, id))!);
}

async function dryRun(ctx: BulkContext, req: BulkUpgradeRequest, requested: string[] | null, targetVersion: string) {
  const now = ctx.clock.now();
  const chunk = ctx.settings.planChunkSize;
  const end = requested ? requested.length : await ctx.installs.count(req.appId);
  let wouldMove = 0;
  let deferred = 0;
  const fails = new Map<BulkSkipReason, number>();
  for (let start = 0; start < end; start += chunk) {
    const ids = requested
      ? requested.slice(start, start + chunk)
      : await ctx.installs.listRange(ctx.installs.keys.installationIds(req.appId), start, start + chunk - 1);
    const { versions, approved } = await ctx.installs.readStates(req.appId, ids);
    const windows = await ctx.installs.readWindows(req.appId, ids);
    ids.forEach((_, k) => {
      if (!requested && (versions[k] == null || semver.major(versions[k]) !== req.from)) return;
      const d = decideBulkMove({
        current: versions[k] ?? null,
        approvedUpTo: approved[k] ?? null,
        fromMajor: req.from,
        target: targetVersion,
        windows: windows[k] ?? null,
        dueAt: now,
        now,
        capMs: ctx.rolloutPolicy.maintenanceCapMs,
      });
      if (d.kind === 'skip') fails.set(d.reason, (fails.get(d.reason) ?? 0) + 1);
      else {
        wouldMove++;
        if (d.kind === 'defer') deferred++;
      }
    });
  }
  return {
    dryRun: true as const,
    appId: req.appId,
    environment: req.environment,
    to: targetVersion,
    fromMajor: req.from,
    toMajor: req.to,
    wouldMove,
    deferred,
    wouldFail: BULK_SKIP_REASONS.filter((r) => fails.has(r)).map((reason) => ({
      reason,
      count: fails.get(reason)!,
      words: BULK_SKIP_WORDS[reason],
    })),
  };
}

/** An app's bulk upgrades, newest first, and how long finished ones are kept. */
export interface BulkUpgradeList {
  appId: string;
  /** Finished records are kept this long after they finish, ms. */
  retentionMs: number;
  bulkUpgrades: BulkUpgradeView[];
}

/**
 * An app's bulk upgrades, newest first. Records past their expiry (clock) are deleted here and
 * not listed.
 */
export async function listBulkUpgrades(ctx: BulkContext, appId: string): Promise<BulkUpgradeList> {
  const now = ctx.clock.now();
  const { records, gone } = await ctx.bulkUpgrades.list(appId);
  const expired = records.filter((r) => r.expiresAt !== null && r.expiresAt <= now).map((r) => r.id);
  await ctx.bulkUpgrades.forget(appId, [...gone, ...expired]);
  return {
    appId,
    retentionMs: ctx.settings.bulkUpgradeRetentionMs,
    bulkUpgrades: records.filter((r) => !expired.includes(r.id)).map(toBulkView),
  };
}

/** Retention as a Redis TTL (real ms) and as the record's `expiresAt` (clock ms). */
function retention(ctx: BulkContext, at: number): { ttlMs: number; expiresAt: number } {
  const ms = ctx.settings.bulkUpgradeRetentionMs;
  return { ttlMs: Math.max(1000, Math.ceil(ms / ctx.settings.timeScale) + 60_000), expiresAt: at + ms };
}

/**
 * Cancels a running bulk upgrade: pending installations stay where they are; those moved stay
 * moved. `appId`, when given, must be the bulk upgrade's app.
 * @throws AppError bulk-upgrade-not-found; bulk-upgrade-refused when it is not running
 */
export async function cancelBulkUpgrade(ctx: BulkContext, id: string, appId?: string): Promise<BulkUpgradeView> {
  const owner = await ctx.bulkUpgrades.appOf(id);
  const notFound = () =>
    new AppError(
      ErrorCode.BULK_UPGRADE_NOT_FOUND,
      `no bulk upgrade '${id}'${appId ? ` of ${appId}` : ''} (never started, or its record expired)`,
    );
  if (!owner || (appId !== undefined && owner !== appId)) throw notFound();
  const at = ctx.clock.now();
  const before = await ctx.bulkUpgrades.get(owner, id);
  if (!before || (before.expiresAt !== null && before.expiresAt <= at)) throw notFound();
  const { ttlMs, expiresAt } = retention(ctx, at);
  const r = await ctx.bulkUpgrades.cancel(owner, id, at, ttlMs, expiresAt);
  if (r === 'missing') throw notFound();
  if (r === 'finished')
    throw refused(`bulk upgrade ${id} is ${before.status}: only a running one can be cancelled`, {
      status: before.status,
    });
  await ctx.bulkUpgrades.release(id);
  ctx.events.emit('bulk:finished', { appId: owner, bulkId: id, status: 'cancelled' });
  const after = (await ctx.bulkUpgrades.get(owner, id))!;
  ctx.logger.info(
    { event: 'bulk:cancelled', appId: owner, bulkId: id, completed: after.completed, pending: bulkPending(after) },
    `bulk upgrade ${id} of ${owner} cancelled: ${after.completed} moved, ${bulkPending(after)} left where they are`,
  );
  return toBulkView(after);
}

/** Result of the plan job. */
export interface BulkPlanResult {
  bulkId: string;
  status: string;
  candidates: number;
  batches: number;
}

/**
 * Plans a bulk upgrade: reads its scope in chunks from the cursor, appends the installations on
 * the source major to the candidate list (an explicit list's others are recorded as failed,
 * with their reason; the app's whole list is read and filtered inside the store, one call a
 * chunk) and enqueues a batch per full range of `batchSize` candidates, then the
 * last range and the end of the plan. Resumable: a plan killed midway resumes at the cursor and
 * enqueues the ranges already cut again (same job ids: no-ops).
 */
export async function planBulkUpgrade(ctx: BulkContext, job: BulkPlanJob): Promise<BulkPlanResult> {
  const { appId, bulkId } = job;
  let rec = await ctx.bulkUpgrades.get(appId, bulkId);
  if (!rec || rec.status !== 'running' || rec.planned)
    return { bulkId, status: rec?.status ?? 'gone', candidates: rec?.total ?? 0, batches: 0 };
  const bs = ctx.settings.batchSize;
  const chunk = ctx.settings.planChunkSize;
  let cut = 0; // candidates covered by enqueued batches
  let batches = 0;
  const enqueue = async (length: number, final: boolean) => {
    const jobs: BulkBatchJob[] = [];
    while (length - cut >= bs || (final && length > cut)) {
      const end = Math.min(length, cut + bs) - 1;
      jobs.push({ v: 1, appId, bulkId, start: cut, end, dueAt: rec!.startedAt });
      cut = end + 1;
    }
    await ctx.enqueueBulkBatches(jobs);
    batches += jobs.length;
  };
  let length = await ctx.bulkUpgrades.candidateLength(appId, bulkId);
  await enqueue(length, false);
  let cursor = rec.cursor;
  while (cursor < rec.scopeEnd) {
    if (!rec.explicit) {
      // The app's whole list: read, filtered and appended inside the store, one call a chunk.
      const r = await ctx.bulkUpgrades.planChunk(rec, cursor, chunk);
      if (r === 'stopped') return { bulkId, status: 'stopped', candidates: length, batches };
      if (r === 'moved') {
        rec = (await ctx.bulkUpgrades.get(appId, bulkId)) ?? rec;
        cursor = rec.cursor;
        length = await ctx.bulkUpgrades.candidateLength(appId, bulkId);
        continue;
      }
      if (r.read === 0) break;
      cursor += r.read;
      length += r.candidates;
      await enqueue(length, false);
      continue;
    }
    const ids = await ctx.bulkUpgrades.scopeIds(rec, cursor, Math.min(rec.scopeEnd, cursor + chunk) - 1);
    if (ids.length === 0) break;
    const { versions } = await ctx.installs.readStates(appId, ids);
    const candidates: string[] = [];
    const skips: { id: string; reason: BulkSkipReason }[] = [];
    ids.forEach((id, k) => {
      const v = versions[k] ? semver.parse(versions[k]) : null;
      if (v && v.major === rec!.from) candidates.push(id);
      else skips.push({ id, reason: v ? 'not-on-source-major' : 'not-installed' });
    });
    const r = await ctx.bulkUpgrades.pushCandidates(appId, bulkId, cursor, cursor + ids.length, candidates, skips);
    if (r === 'stopped') return { bulkId, status: 'stopped', candidates: length, batches };
    if (r === 'moved') {
      rec = (await ctx.bulkUpgrades.get(appId, bulkId)) ?? rec;
      cursor = rec.cursor;
      length = await ctx.bulkUpgrades.candidateLength(appId, bulkId);
      continue;
    }
    cursor += ids.length;
    length += candidates.length;
    await enqueue(length, false);
  }
  await enqueue(length, true);
  const at = ctx.clock.now();
  const { ttlMs, expiresAt } = retention(ctx, at);
  const st = await ctx.bulkUpgrades.finishPlan(appId, bulkId, at, ttlMs, expiresAt);
  if (st === 'finished') await finished(ctx, appId, bulkId);
  ctx.logger.info(
    { event: 'bulk:planned', appId, bulkId, candidates: length, batches },
    `bulk upgrade ${bulkId} of ${appId} planned: ${length} installation(s) to move in ${batches} batch(es)`,
  );
  return { bulkId, status: st === 'finished' ? 'completed' : 'running', candidates: length, batches };
}

async function finished(ctx: BulkContext, appId: string, bulkId: string): Promise<void> {
  await ctx.bulkUpgrades.release(bulkId);
  ctx.events.emit('bulk:finished', { appId, bulkId, status: 'completed' });
  const r = await ctx.bulkUpgrades.get(appId, bulkId);
  ctx.logger.info(
    { event: 'bulk:completed', appId, bulkId, completed: r?.completed, failed: r?.failed },
    `bulk upgrade ${bulkId} of ${appId} completed: ${r?.completed} moved, ${r?.failed} failed`,
  );
}

/** Result of a bulk batch. */
export interface BulkBatchResult {
  bulkId: string;
  moved: number;
  skipped: number;
  /** Set when the bulk upgrade is no longer running (cancelled, completed, expired): nothing done. */
  stopped?: string;
}

/**
 * Applies one batch at `clock.now()`: each candidate without an outcome yet is moved to the
 * target (compare-and-set), or recorded as failed with its reason (`decideBulkMove`); one a
 * maintenance window holds waits, and the batch sleeps until the earliest such window's end
 * (at most 4 h after it was due). A version that changed between the read and the write is
 * read again.
 */
export async function applyBulkBatch(ctx: BulkContext, job: BulkBatchJob): Promise<BulkBatchResult | BatchWait> {
  const { appId, bulkId } = job;
  const rec = await ctx.bulkUpgrades.get(appId, bulkId);
  if (!rec || rec.status !== 'running') return { bulkId, moved: 0, skipped: 0, stopped: rec?.status ?? 'gone' };
  const now = ctx.clock.now();
  if (now < job.dueAt) return { kind: 'wait', reason: 'not-due', until: job.dueAt };
  let moved = 0;
  let skipped = 0;
  let waitUntil: number | null = null;
  for (let attempt = 0; ; attempt++) {
    // The candidates without an outcome yet, with what decides their move, in one read.
    const { ids: open, versions, approved, windows } = await ctx.bulkUpgrades.readBatch(rec, job.start, job.end);
    const lines: BulkMoveLine[] = [];
    waitUntil = null;
    open.forEach((id, k) => {
      const d = decideBulkMove({
        current: versions[k] ?? null,
        approvedUpTo: approved[k] ?? null,
        fromMajor: rec.from,
        target: rec.toVersion,
        windows: windows[k] ?? null,
        dueAt: job.dueAt,
        now,
        capMs: ctx.rolloutPolicy.maintenanceCapMs,
      });
      if (d.kind === 'move') lines.push({ id, expected: versions[k]! });
      else if (d.kind === 'skip') lines.push({ id, skip: d.reason });
      else waitUntil = waitUntil === null ? d.until : Math.min(waitUntil, d.until);
    });
    const { ttlMs, expiresAt } = retention(ctx, now);
    const r = await ctx.bulkUpgrades.applyMoves(rec, lines, now, ttlMs, expiresAt);
    moved += r.moved;
    skipped += r.skipped;
    if (r.moved > 0) ctx.metrics.bulkMoved.inc({ app: appId }, r.moved);
    if (r.state === 'stopped') return { bulkId, moved, skipped, stopped: 'not running' };
    if (r.state === 'finished') await finished(ctx, appId, bulkId);
    if (r.conflicts === 0) break;
    if (attempt >= 5)
      throw new AppError(
        ErrorCode.ROLLOUT_CONFLICT,
        `bulk batch ${bulkId} ${job.start}-${job.end}: versions keep changing`,
        {
          retryable: true,
        },
      );
  }
  ctx.events.emit('bulk:batch:applied', { appId, bulkId, moved, skipped });
  ctx.logger.info(
    { event: 'bulk:batch:applied', appId, bulkId, start: job.start, end: job.end, moved, skipped, waitUntil },
    `bulk upgrade ${bulkId} of ${appId}: ${moved} of ${job.end - job.start + 1} installation(s) moved to ${rec.toVersion}` +
      (skipped ? `, ${skipped} failed` : '') +
      (waitUntil !== null ? `; others wait for their maintenance window` : ''),
  );
  if (waitUntil !== null) return { kind: 'wait', reason: 'not-due', until: waitUntil };
  return { bulkId, moved, skipped };
}
