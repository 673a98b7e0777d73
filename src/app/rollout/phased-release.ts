/**
 * Phased releases and the error budget, the I/O around the pure rules of
 * src/rollout/phased-release.ts (Apple's phased release, Google Play staged rollouts; Argo
 * Rollouts' pause on a failed analysis):
 * - a phased rollout's plan (plan-version-rollout.ts) plans only the first phase's cohort; each
 *   later phase, started by a `phase-step` job when its time comes (or by an operator's advance or
 *   complete), plans the next cohort slice the same way, its windows counted from the phase's
 *   start. Upgrade batches check the cohort against the phase reached (`loadLadder`), so an
 *   installation outside it never takes the version early, whatever batch holds it;
 * - pause and resume move the phase timeline (`pausePhases`, `resumePhases`, in the status's
 *   compare-and-set); an operator's pause of a phased release ends by itself when the total pause
 *   reaches `settings.phasedPauseCapMs`, with a notice;
 * - reported failed upgrades count against the error budget; past it the rollout pauses itself,
 *   says why, and notifies; only an operator resumes it.
 * Everything the system does by itself is audited as actor `system`.
 */
import { AppError, ErrorCode } from '../../lib/errors.js';
import {
  cohortOf,
  judgeErrorBudget,
  lastPhase,
  parsePhaseSchedule,
  pauseCapAt,
  phasePercent,
  startPhases,
  stepPhases,
  type PhaseSchedule,
  type PhaseState,
} from '../../rollout/phased-release.js';
import { PlanContext } from '../../rollout/plan-rollout.js';
import type { PauseCapJob, PhaseStepJob, UpgradeBatchJob } from '../../jobs/queues.js';
import type { RolloutRecord } from '../../store/rollout-store.js';
import type { AuditAction, AuditTarget } from '../../store/audit-store.js';
import type { RolloutContext } from '../context.js';
import type { BatchWait } from './upgrade-batch.js';
import { toPlannedVersion } from './ladder.js';

/** The actor of what the system does by itself, in the audit trail and on pauses. */
export const SYSTEM_ACTOR = 'system';

/**
 * The phased release a new rollout of `appId` starts with: the app's setting
 * (`mpu apps phased-release set`), for automatic updates only (a manual version waits for each
 * admin anyway; an app's first version updates nobody); null when off.
 */
export async function phasedReleaseFor(
  ctx: Pick<RolloutContext, 'apps'>,
  appId: string,
  version: { approval: string; bump: string },
): Promise<PhaseSchedule | null> {
  if (version.approval !== 'automatic' || version.bump === 'initial') return null;
  const app = await ctx.apps.getApp(appId);
  return app?.phasedRelease ?? null;
}

/**
 * Sets (or, with null, clears) an app's phased release of automatic versions: every automatic
 * version published after it is rolled out in phases; rollouts in flight keep their own.
 * @returns the schedule stored, or null
 * @throws AppError app-not-found; input-invalid for a bad schedule
 */
export async function setAppPhasedRelease(
  ctx: Pick<RolloutContext, 'apps' | 'logger'>,
  appId: string,
  schedule: unknown,
): Promise<PhaseSchedule | null> {
  const s = schedule === null ? null : parsePhaseSchedule(schedule);
  await ctx.apps.setPhasedRelease(appId, s);
  ctx.logger.info(
    { event: 'app:phased-release', appId, schedule: s },
    `app ${appId}: phased release ${s ? 'set' : 'off'}`,
  );
  return s;
}

/** Writes one audit entry as the system; a failed write is logged, never thrown. */
async function auditSystem(ctx: RolloutContext, action: AuditAction, target: AuditTarget): Promise<void> {
  const at = ctx.clock.now();
  await ctx.audit
    .record({ actor: SYSTEM_ACTOR, action, atMs: at, target, requestId: `system-${at}`, outcome: 'ok' })
    .catch((err: unknown) => ctx.logger.error({ err, action, target }, 'audit: system entry not recorded'));
}

/**
 * After the plan of a phased rollout (plan-version-rollout.ts) has planned the first phase's
 * cohort: records it released with its cohort size and enqueues the next step. Idempotent.
 */
export async function firstPhasePlanned(
  ctx: RolloutContext,
  appId: string,
  version: string,
  cohortSize: number | null,
): Promise<void> {
  const st = await ctx.rollouts.setPhases(appId, version, (cur) => {
    if (!cur) return null;
    const p0 = cur.schedule.percents[0]!;
    const size = cohortSize !== null && cur.phase === 0 ? cohortSize : cur.cohortSize;
    return cur.released >= p0 && size === cur.cohortSize
      ? null
      : { ...cur, released: Math.max(cur.released, p0), cohortSize: size };
  });
  if (st && st.phase === 0 && st.nextStepAt !== null)
    await ctx.enqueuePhaseSteps([{ v: 1, appId, version, phase: 1, at: st.nextStepAt }]);
  if (st && cohortSize !== null)
    ctx.events.emit('rollout:phase', {
      appId,
      version,
      phase: 0,
      percent: st.schedule.percents[0]!,
      cohortSize,
      at: st.startedAt,
    });
}

/** Delivers a rollout notice when the notifier takes them; a failure is logged (the pause stands). */
async function notice(
  ctx: RolloutContext,
  type: 'rollout-paused' | 'rollout-resumed',
  appId: string,
  version: string,
  reason: string,
): Promise<void> {
  await ctx.notifier
    .rolloutNotice?.({ type, appId, version, at: ctx.clock.now(), reason })
    .catch((err: unknown) => ctx.logger.error({ err, appId, version, type }, 'notify: rollout notice not delivered'));
}

/** The result of a `phase-step` job. */
export interface PhaseStepResult {
  appId: string;
  version: string;
  /** The phase reached, its percentage and cohort; `skipped` when there was nothing to do. */
  phase?: number;
  percent?: number;
  cohortSize?: number;
  /** Installations planned by this step (those of its slice not on the version yet). */
  planned?: number;
  batches?: number;
  skipped?: 'gone' | 'halted' | 'unphased' | 'released' | 'superseded';
}

/**
 * Runs a `phase-step` job: starts phase `data.phase` when it is due (the rollout's `nextStepAt`;
 * while paused or early the job waits), then plans the cohort slice it releases and enqueues the
 * next step. Idempotent: a phase is stepped once (compare-and-set on the phase state), and a
 * slice planned again enqueues the same batches (ids from phase, time and installations).
 */
export async function runPhaseStep(ctx: RolloutContext, data: PhaseStepJob): Promise<PhaseStepResult | BatchWait> {
  const { appId, version } = data;
  for (let attempt = 0; attempt < 5; attempt++) {
    const r = await ctx.rollouts.get(appId, version);
    if (!r) return { appId, version, skipped: 'gone' };
    if (r.status === 'halted') return { appId, version, skipped: 'halted' };
    const st = r.phases;
    if (!st) return { appId, version, skipped: 'unphased' };
    if (st.phase >= data.phase) return releasePhase(ctx, r, st);
    if (st.phase < data.phase - 1) return { appId, version, skipped: 'superseded' }; // the previous step comes first
    if (r.status === 'paused' || st.pausedAt !== null) return { kind: 'wait', reason: 'paused' };
    if (st.nextStepAt === null) return { appId, version, skipped: 'released' };
    const now = ctx.clock.now();
    if (now < st.nextStepAt) return { kind: 'wait', reason: 'not-due', until: st.nextStepAt };
    await ctx.rollouts.setPhases(appId, version, (cur) =>
      cur && cur.phase === data.phase - 1 && cur.pausedAt === null && cur.nextStepAt !== null && now >= cur.nextStepAt
        ? stepPhases(cur, data.phase, cur.nextStepAt)
        : null,
    );
    // Read again: stepped by this call or another, or paused in between.
  }
  throw new AppError(ErrorCode.ROLLOUT_CONFLICT, `the phase of ${appId}@${version} kept moving; try again`, {
    retryable: true,
  });
}

/**
 * Plans the cohort slice the phase reached releases (`released` … its percentage), counted from
 * the phase's start, records it released with the phase's cohort size, and enqueues the next
 * step. Installations are read in chunks; batches are cut at `batchSize` per bucket time.
 */
async function releasePhase(ctx: RolloutContext, r: RolloutRecord, st: PhaseState): Promise<PhaseStepResult> {
  const { appId, version } = r;
  const percent = phasePercent(st);
  const next = async () => {
    if (st.nextStepAt !== null && st.phase < lastPhase(st))
      await ctx.enqueuePhaseSteps([{ v: 1, appId, version, phase: st.phase + 1, at: st.nextStepAt }]);
  };
  if (st.released >= percent) {
    await next();
    return { appId, version, phase: st.phase, percent, cohortSize: st.cohortSize, skipped: 'released' };
  }
  const record = await ctx.versions.getVersion(appId, version);
  if (!record) return { appId, version, skipped: 'gone' };
  const all = (await ctx.versions.listVersions(appId)).map(toPlannedVersion);
  const plan = new PlanContext({ ...toPlannedVersion(record), publishedAt: st.startedAt }, all, ctx.rolloutPolicy, {
    appId,
    from: st.released,
    to: percent,
  });
  const bs = Math.max(1, Math.min(5000, ctx.settings.batchSize));
  const open = new Map<number, string[]>();
  let planned = 0;
  let batches = 0;
  const flush = async (final: boolean) => {
    const jobs: UpgradeBatchJob[] = [];
    for (const [at, ids] of open) {
      while (ids.length >= bs || (final && ids.length > 0))
        jobs.push({
          v: 1,
          appId,
          version,
          dueAt: at,
          source: { kind: 'phase', phase: st.phase, ids: ids.splice(0, bs) },
        });
    }
    await ctx.enqueueUpgradeBatches(jobs);
    batches += jobs.length;
  };
  for (let start = 0; ;) {
    const { read, inputs } = await ctx.installs.readChunk(appId, start, ctx.settings.planChunkSize);
    if (read === 0) break;
    start += read;
    for (const inst of inputs) {
      const step = plan.step(inst);
      if (step.kind !== 'upgrade') continue;
      planned++;
      let ids = open.get(step.at);
      if (!ids) open.set(step.at, (ids = []));
      ids.push(inst.id);
    }
    await flush(false);
  }
  await flush(true);
  const cohortSize = plan.cohortMembers;
  await ctx.rollouts.setPhases(appId, version, (cur) =>
    cur && (cur.released < percent || (cur.phase === st.phase && cur.cohortSize !== cohortSize))
      ? { ...cur, released: Math.max(cur.released, percent), ...(cur.phase === st.phase ? { cohortSize } : {}) }
      : null,
  );
  await next();
  ctx.events.emit('rollout:phase', { appId, version, phase: st.phase, percent, cohortSize, at: st.startedAt });
  ctx.logger.info(
    { event: 'rollout:phase', appId, version, phase: st.phase, percent, cohortSize, planned, batches },
    `phased release of ${appId}@${version}: phase ${st.phase + 1} of ${st.schedule.percents.length} (${percent} %, ${cohortSize} installation(s)); ${planned} upgrade(s) planned in ${batches} batch(es)`,
  );
  return { appId, version, phase: st.phase, percent, cohortSize, planned, batches };
}

/** What an operator's advance or complete asks for. */
export interface AdvanceRequest {
  /** `advance`: the next phase (or `to`); `complete`: release to all (the last phase). */
  mode: 'advance' | 'complete';
  /** The phase index to reach (makes a retried advance harmless); default: the next one. */
  to?: number;
}

/** Requires a phased rollout an operator may step: not halted, not paused. @throws AppError */
async function requirePhased(ctx: RolloutContext, appId: string, version: string): Promise<RolloutRecord> {
  const r = await ctx.rollouts.get(appId, version);
  if (!r)
    throw new AppError(ErrorCode.ROLLOUT_NOT_FOUND, `no rollout of ${appId}@${version} (see 'mpu rollouts list')`);
  if (!r.phases)
    throw new AppError(
      ErrorCode.ROLLOUT_CONFLICT,
      `rollout ${r.id} is not a phased release (give it one with 'mpu rollouts phase ${r.id} --preset apple')`,
    );
  if (r.status === 'halted') throw new AppError(ErrorCode.ROLLOUT_CONFLICT, `rollout ${r.id} is halted`);
  return r;
}

/**
 * An operator's `advance` (the next phase now, or phase `to`) or `complete` (release to all now)
 * of a phased rollout; the new phase's cohort is planned by a `phase-step` job at once (its
 * windows counted from now). Idempotent: a complete rollout, or an advance to a phase reached,
 * changes nothing.
 * @returns the rollout's phase state after it, and whether this call changed it
 * @throws AppError rollout-not-found; rollout-conflict (not phased, halted, or paused: resume
 *   first); input-invalid for a `to` outside the schedule
 */
export async function advancePhases(
  ctx: RolloutContext,
  appId: string,
  version: string,
  req: AdvanceRequest,
): Promise<{ phases: PhaseState; changed: boolean }> {
  const r = await requirePhased(ctx, appId, version);
  if (r.status === 'paused')
    throw new AppError(ErrorCode.ROLLOUT_CONFLICT, `rollout ${r.id} is paused: resume it before you ${req.mode} it`);
  const last = lastPhase(r.phases!);
  if (req.to !== undefined && (!Number.isInteger(req.to) || req.to < 1 || req.to > last))
    throw new AppError(ErrorCode.INPUT_INVALID, `phase ${req.to} is not in the schedule (phases 1 to ${last})`);
  const now = ctx.clock.now();
  let changed = false;
  const st = await ctx.rollouts.setPhases(appId, version, (cur) => {
    if (!cur || cur.pausedAt !== null) return null;
    const target = req.mode === 'complete' ? last : (req.to ?? cur.phase + 1);
    const next = stepPhases(cur, target, now);
    changed = next !== cur;
    return changed ? next : null;
  });
  if (!st) throw new AppError(ErrorCode.ROLLOUT_CONFLICT, `rollout ${r.id} is halted`);
  if (st.pausedAt !== null)
    throw new AppError(ErrorCode.ROLLOUT_CONFLICT, `rollout ${r.id} is paused: resume it before you ${req.mode} it`);
  if (changed) await ctx.enqueuePhaseSteps([{ v: 1, appId, version, phase: st.phase, at: now }]);
  ctx.logger.info(
    { event: `rollout:${req.mode}`, appId, version, phase: st.phase, changed },
    `rollout ${appId}@${version}: ${req.mode} → phase ${st.phase + 1} (${phasePercent(st)} %)${changed ? '' : ', unchanged'}`,
  );
  return { phases: st, changed };
}

/**
 * Gives a rollout in flight a phased release (per version: `mpu rollouts phase APP@V`): its first
 * phase starts now; installations that have the version keep it, the others take it as their
 * cohort's phase comes (its batches already enqueued check the cohort). Automatic versions only.
 * @throws AppError rollout-not-found; rollout-conflict (manual, halted, complete or already phased);
 *   input-invalid for a bad schedule
 */
export async function phaseRollout(
  ctx: RolloutContext,
  appId: string,
  version: string,
  schedule: unknown,
): Promise<PhaseState> {
  const s = parsePhaseSchedule(schedule);
  const r = await ctx.rollouts.get(appId, version);
  if (!r)
    throw new AppError(ErrorCode.ROLLOUT_NOT_FOUND, `no rollout of ${appId}@${version} (see 'mpu rollouts list')`);
  if (r.approval !== 'automatic')
    throw new AppError(
      ErrorCode.ROLLOUT_CONFLICT,
      `rollout ${r.id} needs admins' approval: only automatic versions are phased`,
    );
  if (r.status === 'halted') throw new AppError(ErrorCode.ROLLOUT_CONFLICT, `rollout ${r.id} is halted`);
  if ((await ctx.rollouts.view(r)).complete)
    throw new AppError(ErrorCode.ROLLOUT_CONFLICT, `rollout ${r.id} is complete: every installation has it`);
  const now = ctx.clock.now();
  // The first phase's cohort size: the installations whose cohort is below its percentage.
  let cohortSize = 0;
  for (let start = 0; ;) {
    const ids = await ctx.installs.listRange(
      ctx.keys.installationIds(appId),
      start,
      start + ctx.settings.planChunkSize - 1,
    );
    if (ids.length === 0) break;
    start += ids.length;
    for (const id of ids) if (cohortOf(appId, id) < s.percents[0]!) cohortSize++;
  }
  const first = { ...startPhases(s, now), cohortSize };
  // The plan already planned everyone: the first phase's cohort is released as planned (its
  // batches check the cohort), later phases re-plan their slices from their start.
  let conflict = false;
  const st = await ctx.rollouts.setPhases(appId, version, (cur) => {
    conflict = cur !== null;
    return cur ? null : { ...first, released: s.percents[0]!, pausedAt: r.status === 'paused' ? now : null };
  });
  if (conflict || !st)
    throw new AppError(ErrorCode.ROLLOUT_CONFLICT, `rollout ${r.id} is already a phased release (or was halted)`);
  if (st.nextStepAt !== null) await ctx.enqueuePhaseSteps([{ v: 1, appId, version, phase: 1, at: st.nextStepAt }]);
  ctx.logger.info(
    { event: 'rollout:phase:set', appId, version, schedule: s },
    `rollout ${appId}@${version}: phased release ${s.percents.join(', ')} % every ${s.intervalMs} ms`,
  );
  return st;
}

/**
 * After an operator paused a phased release: schedules its resume at the pause cap (the total
 * pause reaching `settings.phasedPauseCapMs`). Nothing for an unphased rollout.
 */
export async function schedulePauseCap(ctx: RolloutContext, appId: string, version: string): Promise<void> {
  const r = await ctx.rollouts.get(appId, version);
  if (!r?.phases || r.status !== 'paused' || r.phases.pausedAt === null) return;
  const at = pauseCapAt(r.phases, ctx.settings.phasedPauseCapMs)!;
  await ctx.enqueuePauseCap({ v: 1, appId, version, pausedAt: r.phases.pausedAt, at });
}

/** The result of a `pause-cap` job. */
export interface PauseCapResult {
  appId: string;
  version: string;
  resumed: boolean;
}

/**
 * Runs a `pause-cap` job: when the pause that began at `data.pausedAt` is still on at its cap, the
 * rollout resumes itself, with a notice, an event and an audit entry as `system`. A pause by the
 * error budget waits for an operator whatever the cap (their decision, not the calendar's).
 */
export async function runPauseCap(ctx: RolloutContext, data: PauseCapJob): Promise<PauseCapResult | BatchWait> {
  const { appId, version } = data;
  const r = await ctx.rollouts.get(appId, version);
  const same = r?.status === 'paused' && r.phases?.pausedAt === data.pausedAt && r.pause?.by !== SYSTEM_ACTOR;
  if (!r || !same) return { appId, version, resumed: false };
  const at = pauseCapAt(r.phases!, ctx.settings.phasedPauseCapMs)!;
  const now = ctx.clock.now();
  if (now < at) return { kind: 'wait', reason: 'not-due', until: at };
  const capDays = Math.round((ctx.settings.phasedPauseCapMs / 86_400_000) * 100) / 100;
  const reason = `paused for the longest total allowed (${capDays} days): resumed by itself`;
  const { changed } = await ctx.rollouts.transitionWith(appId, version, 'resume', {
    at: now,
    by: SYSTEM_ACTOR,
    reason,
  });
  if (!changed) return { appId, version, resumed: false };
  await auditSystem(ctx, 'rollout.resume', { app: appId, version, reason });
  await notice(ctx, 'rollout-resumed', appId, version, reason);
  ctx.events.emit('rollout:resumed', { appId, version, by: SYSTEM_ACTOR, reason, at: now });
  ctx.logger.warn(
    { event: 'rollout:resumed', appId, version, by: SYSTEM_ACTOR, reason },
    `rollout ${appId}@${version}: ${reason}`,
  );
  return { appId, version, resumed: true };
}

/** A failed upgrade to report. */
export interface FailureReport {
  installationId: string;
  /** The rollout's version; default: the version the installation runs now. */
  version?: string;
  /** The app, when the caller names the rollout (`APP@V`): must be the installation's. */
  appId?: string;
  reason?: string;
  /** Who reports (token name or CLI actor). */
  by: string;
}

/** What a failure report did. */
export interface FailureResult {
  appId: string;
  version: string;
  installationId: string;
  /** False when this installation's failure in this rollout was reported before (nothing changed). */
  recorded: boolean;
  failures: number;
  /** Installations on the version or newer (the budget's `upgraded`). */
  upgraded: number;
  /** Failures tolerated now: `max(count, ratio × upgraded)`. */
  budget: number;
  /** True when this report paused the rollout (the budget was exceeded). */
  paused: boolean;
  /** The rollout's status after the report. */
  status: string;
  /** The error budget in words. */
  reason: string;
}

/**
 * Records a failed upgrade of one installation in a rollout (once per installation and version)
 * and, when the rollout's failures now exceed the error budget, pauses it as `system` with the
 * reason, a notice, an event and an audit entry. Only a new failure can pause: resumed by an
 * operator, the rollout pauses again at the next new failure past the budget.
 * @throws AppError installation-not-found; rollout-not-found; input-invalid (the installation is
 *   another app's)
 */
export async function reportFailure(ctx: RolloutContext, report: FailureReport): Promise<FailureResult> {
  const appId = await ctx.installs.appOf(report.installationId);
  if (!appId) throw new AppError(ErrorCode.INSTALLATION_NOT_FOUND, `no installation '${report.installationId}'`);
  if (report.appId !== undefined && report.appId !== appId)
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `installation ${report.installationId} is an installation of ${appId}, not of ${report.appId}`,
    );
  const version = report.version ?? (await ctx.installs.get(report.installationId)).version;
  const now = ctx.clock.now();
  const reason = (report.reason ?? '').slice(0, 500);
  const { added, failures } = await ctx.rollouts.recordFailure(appId, version, {
    installationId: report.installationId,
    at: now,
    by: report.by,
    reason,
  });
  const r = (await ctx.rollouts.get(appId, version))!;
  const view = await ctx.rollouts.view(r);
  const verdict = judgeErrorBudget(failures, view.reached, {
    count: ctx.settings.errorBudgetCount,
    ratio: ctx.settings.errorBudgetRatio,
  });
  let paused = false;
  let status: string = r.status;
  if (added && verdict.exceeded && r.status !== 'paused' && r.status !== 'halted') {
    const t = await ctx.rollouts.transitionWith(appId, version, 'pause', {
      at: now,
      by: SYSTEM_ACTOR,
      reason: verdict.reason,
    });
    status = t.status;
    paused = t.changed;
    if (paused) {
      await auditSystem(ctx, 'rollout.pause', { app: appId, version, reason: verdict.reason });
      await notice(ctx, 'rollout-paused', appId, version, verdict.reason);
      ctx.events.emit('rollout:paused', { appId, version, by: SYSTEM_ACTOR, reason: verdict.reason, at: now });
      ctx.logger.warn(
        { event: 'rollout:paused', appId, version, by: SYSTEM_ACTOR, reason: verdict.reason },
        `rollout ${appId}@${version} paused: ${verdict.reason}`,
      );
    }
  }
  if (added)
    ctx.events.emit('rollout:failure', {
      appId,
      version,
      installationId: report.installationId,
      failures,
      budget: verdict.budget,
    });
  return {
    appId,
    version,
    installationId: report.installationId,
    recorded: added,
    failures,
    upgraded: view.reached,
    budget: verdict.budget,
    paused,
    status,
    reason: verdict.reason,
  };
}

/** A phased release as `rollouts show` and the API present it. Times epoch ms. */
export interface PhasedView {
  /** Phase reached, 1-based, of `phases`. */
  phase: number;
  phases: number;
  percent: number;
  /** Installations within the phase's percentage when it was released. */
  cohortSize: number;
  startedAt: number;
  /** The next phase's start (null at the last phase; null while paused: it moves by the pause). */
  nextStepAt: number | null;
  percents: number[];
  intervalMs: number;
  /** Total pause so far, ms (the pause in progress included). */
  pausedMs: number;
  /** When the pause in progress ends by itself (the cap), or null. */
  pauseCapAt: number | null;
}

/** The view of a rollout's phased release at `now`, or undefined when unphased. */
export function phasedView(
  r: Pick<RolloutRecord, 'phases' | 'pause'>,
  now: number,
  capMs: number,
): PhasedView | undefined {
  const st = r.phases;
  if (!st) return undefined;
  return {
    phase: st.phase + 1,
    phases: st.schedule.percents.length,
    percent: phasePercent(st),
    cohortSize: st.cohortSize,
    startedAt: st.startedAt,
    nextStepAt: st.pausedAt !== null ? null : st.nextStepAt,
    percents: st.schedule.percents,
    intervalMs: st.schedule.intervalMs,
    pausedMs: st.pausedMs + (st.pausedAt !== null ? Math.max(0, now - st.pausedAt) : 0),
    pauseCapAt: st.pausedAt !== null && r.pause?.by !== SYSTEM_ACTOR ? pauseCapAt(st, capMs) : null,
  };
}
