/**
 * The reconciliation sweep (DESIGN.md "Rollout rules": every installation runs an automatic
 * version within its window, and none is ever upgraded twice): a scheduled job, every
 * `reconcileIntervalMs`, that finds installations past the time their promise says they run a
 * version (overdue: their upgrade or notice job was lost, as a Redis that restarts from an AOF
 * missing its last second loses the delayed jobs written in it) and plans them again at once.
 *
 * How it stays cheap at a million installations: it never walks installations one by one, nor
 * enqueues a job per installation.
 * - A rollout whose every installation runs its version or newer (the version distribution,
 *   one HGETALL) is skipped, as are paused, halted and still-planning ones.
 * - Otherwise it reads the rollout's planned buckets (one HGETALL: time → size) and only the
 *   buckets whose time fell between its mark (how far the previous sweep checked) and now minus
 *   `reconcileGraceMs`; their installations' versions and approvals are read a range at a time
 *   (one Lua call per 2,000, as an upgrade batch reads them). So each planned installation is
 *   read once by the sweeps in a rollout's life, about as much reading as its upgrade batch
 *   did, and none is written unless it is overdue.
 * - An overdue upgrade is applied here with the upgrade's compare-and-set (a batch that runs
 *   too, now or later, moves nobody twice), decided at its bucket's time (so the sweep brings
 *   it what its lost batch would have, never a version whose own time has not come); an overdue
 *   notice is sent by running the notify step on the bucket's range (it skips installations
 *   already notified).
 * It also sends the app's due approval reminders (approval-notices.ts) and counts approvals.
 *
 * Late installations (registered after a version's plan, late-installations.ts) are upgraded by
 * batches whose ids travel only in the job, so the sweep reads them from the registration list
 * (`sweepLate`): for a scheduled automatic rollout, the positions from its plan's final cursor (or
 * its late mark, when higher) to the end, whole records (late installations are few). Each one's
 * promised time is the `at` of its late upgrade step by the late planner's rule
 * (`LatePlanContext.steps`, the window from its registration time); past it, with a target then,
 * it is moved with the same compare-and-set. The late mark then passes the leading installations
 * that run the version or newer: each is read by a sweep until it does, and then never again.
 *
 * Limits: not repaired are a late installation's lost "update available" notice and its lost
 * upgrade through a manual version it approved (manual rollouts' late installations are read only
 * by an automatic rollout not complete),
 * and a late Connect installation's lost adoption batch. A late installation that stays behind
 * without a target (an unapproved manual version blocks it) holds the late mark where it is, so
 * it is read again at each sweep while the rollout is incomplete.
 */
import { decideTarget } from '../../rollout/version-ladder.js';
import type { RolloutRecord } from '../../store/rollout-store.js';
import type { VersionMove } from '../../store/installation-store.js';
import type { RolloutContext } from '../context.js';
import { loadLadder } from './ladder.js';
import { cohortOf } from '../../rollout/phased-release.js';
import { loadLatePlan } from './late-installations.js';
import { notifyBatch } from './notify-batch.js';
import { approvalCounts, sendReminders, type ApprovalState } from './approval-notices.js';

/** What one sweep did. */
export interface ReconcileResult {
  /** Rollouts whose buckets were read (incomplete, running ones). */
  rollouts: number;
  /** Installations read: planned ones (buckets due since the mark) and late ones (sweepLate). */
  checked: number;
  /** Installations found past their promised time without their upgrade (or notice). */
  overdue: number;
  /** Installations the sweep upgraded. */
  repaired: number;
  /** Installations whose lost notice the sweep sent. */
  noticesSent: number;
  /** Installations reminded of a pending approval. */
  reminded: number;
  /** Overdue upgrades per app (the `mpu_installations_overdue` gauge). */
  overdueByApp: Record<string, number>;
  /** Approval states per manual rollout not complete (the `mpu_approvals` gauge). */
  approvals: { appId: string; version: string; counts: Record<ApprovalState, number> }[];
}

/** Rollouts the sweep reads, at most (newest first; older ones are complete or halted in practice). */
const MAX_ROLLOUTS = 10_000;

/**
 * One sweep at `clock.now()` over every app with a rollout (see the module documentation).
 * Idempotent: a second sweep, or a second daemon's, finds nothing more to do.
 */
export async function reconcile(ctx: RolloutContext): Promise<ReconcileResult> {
  const now = ctx.clock.now();
  const cutoff = now - ctx.settings.reconcileGraceMs;
  const res: ReconcileResult = {
    rollouts: 0,
    checked: 0,
    overdue: 0,
    repaired: 0,
    noticesSent: 0,
    reminded: 0,
    overdueByApp: {},
    approvals: [],
  };
  const byApp = new Map<string, RolloutRecord[]>();
  for (const r of await ctx.rollouts.list({ limit: MAX_ROLLOUTS }))
    byApp.set(r.appId, [...(byApp.get(r.appId) ?? []), r]);
  for (const [appId, rollouts] of byApp) {
    let overdue = 0;
    for (const r of rollouts) {
      if (r.plannedAt === null || (r.status !== 'scheduled' && r.status !== 'awaiting-approval')) continue;
      const view = await ctx.rollouts.view(r);
      if (r.approval === 'manual' && !view.complete)
        res.approvals.push({ appId, version: r.version, counts: await approvalCounts(ctx, appId, r.version) });
      if (view.complete) continue;
      const o = await sweepRollout(ctx, r, cutoff, res);
      overdue += o;
    }
    res.overdueByApp[appId] = overdue;
    res.reminded += (await sendReminders(ctx, appId)).reminded;
  }
  for (const [app, n] of Object.entries(res.overdueByApp)) ctx.metrics.installationsOverdue.set({ app }, n);
  for (const a of res.approvals)
    for (const [state, n] of Object.entries(a.counts))
      ctx.metrics.approvals.set({ app: a.appId, version: a.version, state }, n);
  ctx.logger.info(
    { event: 'rollout:reconciled', ...res, approvals: res.approvals.length },
    `reconciliation: ${res.checked} installation(s) checked in ${res.rollouts} rollout(s), ${res.overdue} overdue, ` +
      `${res.repaired} upgraded, ${res.noticesSent} notice(s) sent, ${res.reminded} reminded`,
  );
  return res;
}

/** Sweeps one rollout's buckets due since its mark. @returns overdue upgrades found */
async function sweepRollout(
  ctx: RolloutContext,
  r: RolloutRecord,
  cutoff: number,
  res: ReconcileResult,
): Promise<number> {
  const { appId, version } = r;
  const mark = await ctx.rollouts.reconcileMark(appId, version);
  const buckets = (await ctx.rollouts.listBuckets(appId, version)).filter((b) => b.at > mark && b.at <= cutoff);
  res.rollouts++;
  let overdue = 0;
  const bs = Math.max(1, ctx.settings.batchSize);
  const ladder = buckets.some((b) => b.kind !== 'notify') ? await loadLadder(ctx, appId) : null;
  for (const b of buckets) {
    for (let start = 0; start < b.size; start += bs) {
      const end = Math.min(b.size, start + bs) - 1;
      res.checked += end - start + 1;
      if (b.kind === 'notify') {
        const n = await notifyBatch(ctx, { v: 1, appId, version, at: b.at, start, end });
        if ('notified' in n && n.notified > 0) {
          res.noticesSent += n.notified;
          ctx.metrics.reconcileRepairs.inc({ app: appId, kind: 'notice' }, n.notified);
        }
        continue;
      }
      const got = await ctx.installs.readRangeStates(
        appId,
        ctx.rollouts.bucketList(appId, version, b.kind, b.at),
        start,
        end,
      );
      const moves: VersionMove[] = [];
      got.ids.forEach((id, k) => {
        const cur = got.versions[k];
        if (!cur) return;
        const d = decideTarget(ladder!, cur, got.approved[k] ?? null, b.at);
        if (d.target !== null)
          moves.push({
            id,
            expected: cur,
            target: d.target,
            cause: d.approvedBetween.length ? 'approval' : 'automatic',
          });
      });
      if (moves.length === 0) continue;
      overdue += moves.length;
      res.overdue += moves.length;
      const { moved, deferred } = await ctx.installs.applyMoves(appId, moves, ctx.clock.now(), version);
      res.repaired += moved;
      if (moved > 0) {
        ctx.metrics.upgrades.inc({ app: appId, cause: 'automatic' }, moved);
        ctx.metrics.reconcileRepairs.inc({ app: appId, kind: 'upgrade' }, moved);
      }
      if (deferred > 0) ctx.metrics.upgradesDeferred.inc({ app: appId }, deferred);
      ctx.logger.warn(
        { event: 'rollout:reconcile:repaired', appId, version, bucketAt: b.at, overdue: moves.length, moved },
        `reconciliation: ${moves.length} installation(s) of ${appId} overdue since ${new Date(b.at).toISOString()} ` +
          `(their upgrade batch of ${version} did not run); ${moved} upgraded now`,
      );
    }
  }
  if (cutoff > mark) await ctx.rollouts.setReconcileMark(appId, version, cutoff);
  if (r.status === 'scheduled' && r.approval !== 'manual') overdue += await sweepLate(ctx, r, cutoff, res);
  return overdue;
}

/**
 * Sweeps one rollout's late installations (late-installations.ts): positions from the rollout's
 * final plan cursor (what its plan covered), or its late mark when higher, up to the app's
 * installation count. Each one's promised upgrade time is the `at` of its `upgrade` step by the
 * late planner's own rule (rollout/plan-late.ts `LatePlanContext.steps`, DESIGN.md "Rollout
 * rules": the window measured from its registration); one whose time is at or before `cutoff`
 * (epoch ms) and that still has a target then (`decideTarget` at that time, as for a bucket) is
 * overdue, and moved with the compare-and-set (a late batch that still runs moves nobody twice).
 * The late mark then advances over the leading installations found running `version` or newer
 * (or without a record): later sweeps read only the rest.
 * @returns overdue upgrades found
 */
async function sweepLate(ctx: RolloutContext, r: RolloutRecord, cutoff: number, res: ReconcileResult): Promise<number> {
  const { appId, version } = r;
  const [count, planEnd, mark] = await Promise.all([
    ctx.installs.count(appId),
    ctx.rollouts.planCursor(appId, version),
    ctx.rollouts.lateMark(appId, version),
  ]);
  const from = Math.max(planEnd, mark);
  if (from >= count) return 0;
  const plan = await loadLatePlan(ctx, appId);
  const ladder = await loadLadder(ctx, appId);
  const rankOf = (v: string): number => plan.ladder.rank(v);
  const own = rankOf(version);
  let overdue = 0;
  let settledTo = from; // every position below it is settled
  let settling = true;
  for (let pos = from; pos < count;) {
    const { read, inputs } = await ctx.installs.readLateInputs(
      appId,
      pos,
      Math.min(Math.max(1, ctx.settings.batchSize), count - pos),
    );
    if (read === 0) break;
    res.checked += inputs.length;
    // The moves, per version whose late step promised them (that rollout's deferrals apply).
    const moves = new Map<string, VersionMove[]>();
    const runs = new Map<number, string>(); // position → version it runs as read
    const moving = new Map<number, string>(); // position → target of its move
    for (const inst of inputs) {
      runs.set(inst.position, inst.version);
      const step = plan.steps(inst).find((s) => s.kind === 'upgrade');
      if (!step || step.at > cutoff) continue;
      // A phased version goes only to its cohort, as the upgrade batch decides it.
      const cohort = ladder.phases !== null ? cohortOf(appId, inst.id) : undefined;
      const d = decideTarget(ladder, inst.version, inst.approvedUpTo, step.at, cohort);
      if (d.target === null) continue;
      const m: VersionMove = {
        id: inst.id,
        expected: inst.version,
        target: d.target,
        cause: d.approvedBetween.length ? 'approval' : 'automatic',
      };
      const group = moves.get(step.version);
      if (group) group.push(m);
      else moves.set(step.version, [m]);
      moving.set(inst.position, d.target);
    }
    let allMoved = true;
    for (const [stepVersion, ms] of moves) {
      overdue += ms.length;
      res.overdue += ms.length;
      const { moved, deferred } = await ctx.installs.applyMoves(appId, ms, ctx.clock.now(), stepVersion);
      if (moved < ms.length) allMoved = false;
      res.repaired += moved;
      if (moved > 0) {
        ctx.metrics.upgrades.inc({ app: appId, cause: 'automatic' }, moved);
        ctx.metrics.reconcileRepairs.inc({ app: appId, kind: 'upgrade' }, moved);
      }
      if (deferred > 0) ctx.metrics.upgradesDeferred.inc({ app: appId }, deferred);
      ctx.logger.warn(
        { event: 'rollout:reconcile:repaired', appId, version: stepVersion, late: true, overdue: ms.length, moved },
        `reconciliation: ${ms.length} late installation(s) of ${appId} overdue for ${stepVersion} ` +
          `(their late upgrade batch did not run); ${moved} upgraded now`,
      );
    }
    // Settled: runs this version or newer (by its move when every move applied; else as read, and
    // one whose move another writer pre-empted is read again by the next sweep). A position
    // without a readable record (none, or no `registered` entry) has nothing to settle.
    for (let p = pos; settling && p < pos + read; p++) {
      const v = (allMoved ? moving.get(p) : undefined) ?? runs.get(p);
      if (v === undefined || rankOf(v) >= own) settledTo = p + 1;
      else settling = false;
    }
    pos += read;
  }
  if (settledTo > mark) await ctx.rollouts.setLateMark(appId, version, settledTo);
  return overdue;
}
