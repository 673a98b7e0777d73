/**
 * Use cases of the rollout shared by the HTTP API, the CLI and the demo (issue 4): register and
 * inspect installations, approve, pause / resume / halt rollouts, read progress and the version
 * distribution. Takes a `RolloutContext` (stores, queues, clock); throws AppError.
 */
import semver from 'semver';
import { AppError, ErrorCode } from '../../lib/errors.js';
import { parseInstallationInput } from '../../rollout/installation-input.js';
import { generateInstallations, type GenerateOptions } from '../../rollout/generate-population.js';
import { decideTarget } from '../../rollout/version-ladder.js';
import { deferForMaintenance } from '../../rollout/windows.js';
import type { Installation } from '../../rollout/types.js';
import type { InstallationView } from '../../store/installation-store.js';
import type { RolloutRecord, RolloutView } from '../../store/rollout-store.js';
import { UPGRADE_BATCH_JOB_NAME, UPGRADE_JOB_OPTS, upgradeBatchJobId, type UpgradeBatchJob } from '../../jobs/queues.js';
import { loadLadder, realDelay, type RolloutContext } from '../../workers/rollout-context.js';
import { scheduleLatePlanning } from './late-installations.js';

/** Outcome of an approval. Times epoch ms. */
export interface ApprovalResult {
  appId: string;
  installationId: string;
  /** Version it runs now. */
  current: string;
  approvedUpTo: string;
  /** Manual versions this approval approved (recorded in its history). */
  approvedVersions: string[];
  /** Version it will move to, or null when nothing is newer. */
  target: string | null;
  /** When the upgrade runs: now, or the end of its maintenance window (≤ 4 h). */
  upgradeAt: number | null;
}

/**
 * Registers installations: validates all first (nothing is stored if one is bad). New ones are
 * then planned into the rollouts whose plans had already read the installation list
 * (late-installations.ts): an installation registered on an older version while a rollout is in
 * flight is upgraded within its window, measured from now (DESIGN.md "Rollout rules").
 * Registering a known installation again changes nothing but its data (site, check, windows).
 * @throws AppError input-invalid (every problem in `details.problems`)
 */
export async function registerInstallations(ctx: RolloutContext, raw: readonly unknown[], where: (i: number) => string = (i) => `installation[${i}]`): Promise<{ created: number; updated: number }> {
  const parsed: Installation[] = [];
  const problems: string[] = [];
  raw.forEach((r, i) => {
    try {
      parsed.push(parseInstallationInput(r, where(i)));
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
  });
  if (problems.length) {
    throw new AppError(ErrorCode.INPUT_INVALID, `${problems.length} invalid installation(s), nothing stored: ${problems.slice(0, 5).join(' | ')}${problems.length > 5 ? ' …' : ''}`, {
      details: { problems: problems.slice(0, 100) },
    });
  }
  const r = await ctx.installs.register(parsed, ctx.clock.now());
  if (r.created > 0) await scheduleLatePlanning(ctx, parsed.map((i) => i.appId));
  return r;
}

/**
 * Stores a generated population (`generateInstallations`) in batches of 5,000, without holding
 * it in memory, then enqueues its late planning once. For the demo and the benchmark.
 * @returns how many were new
 */
export async function generatePopulation(ctx: RolloutContext, opts: GenerateOptions, onProgress?: (done: number) => void): Promise<{ created: number; updated: number }> {
  let batch: Installation[] = [];
  const total = { created: 0, updated: 0 };
  const flush = async () => {
    const r = await ctx.installs.register(batch, ctx.clock.now());
    total.created += r.created;
    total.updated += r.updated;
    batch = [];
    onProgress?.(total.created + total.updated);
  };
  try {
    for (const inst of generateInstallations({ now: ctx.clock.now(), ...opts })) {
      batch.push(inst);
      if (batch.length >= 5000) await flush();
    }
    if (batch.length) await flush();
  } finally {
    // Once for the whole population (every batch is logged): its late installations are planned together.
    if (total.created > 0) await scheduleLatePlanning(ctx, [opts.appId]);
  }
  return total;
}

/**
 * An admin approves `version` (default: the newest published) for one installation: its
 * approval covers every manual version up to it (recorded in its history), and it is upgraded
 * to the newest version it may now have, at once or at the end of its maintenance window
 * (≤ 4 h) [seed 003].
 * @throws AppError installation-not-found, version-not-found (unknown or not yet published),
 *   rollout-conflict (that version's rollout is paused or halted)
 */
export async function approveInstallation(ctx: RolloutContext, installationId: string, version?: string): Promise<ApprovalResult> {
  const appId = await ctx.installs.appOf(installationId);
  if (!appId) throw new AppError(ErrorCode.INSTALLATION_NOT_FOUND, `no installation '${installationId}' (see 'mpu installations list --app APP')`);
  const now = ctx.clock.now();
  const ladder = await loadLadder(ctx, appId);
  const chosen = version ?? ladder.latestPublished(now)?.version;
  const rec = chosen === undefined ? undefined : ladder.versions.find((v) => v.version === chosen);
  if (version && !rec) {
    const st = await ctx.rollouts.status(appId, version);
    if (st === 'halted' || st === 'paused') {
      throw new AppError(ErrorCode.ROLLOUT_CONFLICT, `the rollout of ${appId}@${version} is ${st}: it cannot be approved${st === 'paused' ? ' until resumed' : ''}`);
    }
  }
  if (!chosen || !rec || rec.publishedAt > now) {
    throw new AppError(ErrorCode.VERSION_NOT_FOUND, version ? `app ${appId} has no published version ${version}` : `app ${appId} has no published version yet`, {
      details: { appId, known: ladder.versions.map((v) => v.version) },
    });
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const inst = await ctx.installs.get(installationId);
    const prev = inst.approvedUpTo;
    const next = prev && semver.valid(prev) && semver.gte(prev, chosen) ? prev : chosen;
    const from = ladder.rank(inst.version);
    const prevRank = prev ? ladder.rank(prev) : -1;
    const upTo = ladder.rank(next);
    const newly = ladder.versions.filter((v, i) => v.approval === 'manual' && i > from && i > prevRank && i <= upTo).map((v) => v.version);
    if (!(await ctx.installs.setApproved(appId, installationId, prev, next, newly, now))) continue;
    const d = decideTarget(ladder, inst.version, next, now);
    let upgradeAt: number | null = null;
    if (d.target !== null) {
      upgradeAt = deferForMaintenance(inst.maintenance, now, ctx.policy.maintenanceCapMs);
      const data: UpgradeBatchJob = { v: 1, appId, version: d.target, dueAt: upgradeAt, source: { kind: 'ids', ids: [installationId] } };
      await ctx.queues.rollout.add(UPGRADE_BATCH_JOB_NAME, data, {
        jobId: upgradeBatchJobId(data),
        delay: realDelay(ctx, upgradeAt),
        ...UPGRADE_JOB_OPTS,
      });
    }
    ctx.logger.info({ event: 'rollout:approved', appId, installationId, approvedUpTo: next, target: d.target, upgradeAt }, `installation ${installationId} approved ${next}`);
    return { appId, installationId, current: inst.version, approvedUpTo: next, approvedVersions: newly, target: d.target, upgradeAt };
  }
  throw new AppError(ErrorCode.ROLLOUT_CONFLICT, `installation ${installationId} was approved concurrently; try again`, { retryable: true });
}

/** One installation with history. @throws AppError installation-not-found */
export function showInstallation(ctx: RolloutContext, id: string): Promise<InstallationView> {
  return ctx.installs.get(id);
}

/** Rollouts with live progress, newest first. */
export async function listRollouts(ctx: RolloutContext, opts: { appId?: string; limit?: number } = {}): Promise<RolloutView[]> {
  const records = await ctx.rollouts.list(opts);
  return Promise.all(records.map((r) => ctx.rollouts.view(r)));
}

/** One rollout with progress and its buckets. @throws AppError rollout-not-found */
export async function showRollout(ctx: RolloutContext, appId: string, version: string): Promise<RolloutView & { buckets: { kind: string; at: number; size: number }[] }> {
  const r = await requireRollout(ctx, appId, version);
  const [view, buckets] = await Promise.all([ctx.rollouts.view(r), ctx.rollouts.listBuckets(appId, version)]);
  return { ...view, buckets };
}

async function requireRollout(ctx: RolloutContext, appId: string, version: string): Promise<RolloutRecord> {
  const r = await ctx.rollouts.get(appId, version);
  if (!r) throw new AppError(ErrorCode.ROLLOUT_NOT_FOUND, `no rollout of ${appId}@${version} (see 'mpu rollouts list')`);
  return r;
}

/**
 * Pause (pending batches wait), resume, or halt (final: pending batches do nothing and the plan's
 * buckets are deleted; installations already upgraded stay upgraded — they never move back).
 * @throws AppError rollout-not-found; rollout-conflict (resume or pause a halted rollout)
 */
export async function controlRollout(ctx: RolloutContext, appId: string, version: string, action: 'pause' | 'resume' | 'halt'): Promise<RolloutView> {
  await ctx.rollouts.transition(appId, version, action);
  if (action === 'halt') await ctx.rollouts.clearBuckets(appId, version);
  ctx.logger.info({ event: `rollout:${action}`, appId, version }, `rollout ${appId}@${version}: ${action}`);
  return ctx.rollouts.view((await requireRollout(ctx, appId, version))!);
}

/** How many installations run each version, newest version first. */
export async function versionDistribution(ctx: RolloutContext, appId: string): Promise<{ appId: string; total: number; versions: { version: string; count: number; percent: number }[] }> {
  const dist = await ctx.installs.distribution(appId);
  const total = Object.values(dist).reduce((a, b) => a + b, 0);
  const versions = Object.entries(dist)
    .sort(([a], [b]) => (semver.valid(a) && semver.valid(b) ? semver.rcompare(a, b) : a < b ? 1 : -1))
    .map(([version, count]) => ({ version, count, percent: total ? Math.round((count / total) * 10_000) / 100 : 0 }));
  return { appId, total, versions };
}

/** Observed delays of one version's rollout, from the installations' histories. Times in ms. */
export interface ObservedDelays {
  appId: string;
  version: string;
  publishedAt: number;
  /** Installations whose history shows a move to this version or a newer one. */
  upgraded: number;
  /** Delay from publication to that move: p50, p99 and max (null when none moved). */
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/**
 * Scans the app's installation histories (HSCAN, batches of 5,000) for the first move of each
 * installation to `version` or newer after its publication: what the demo shows as "the 33-hour
 * bound held" (DESIGN.md "Rollout rules": ≤ 5 h detection + 24 h + 4 h). For populations up to
 * a few hundred thousand (it holds one number per installation).
 * @throws AppError version-not-found
 */
export async function observedDelays(ctx: RolloutContext, appId: string, version: string): Promise<ObservedDelays> {
  const rec = await ctx.versions.getVersion(appId, version);
  if (!rec) throw new AppError(ErrorCode.VERSION_NOT_FOUND, `no version ${version} of app ${appId}`);
  const delays: number[] = [];
  for await (const [, history] of ctx.installs.scanHistory(appId)) {
    const move = history.find((e) => e.kind === 'upgraded' && e.at >= rec.detectedAt && semver.valid(e.to) && semver.gte(e.to, version));
    if (move) delays.push(move.at - rec.detectedAt);
  }
  delays.sort((a, b) => a - b);
  const at = (p: number) => (delays.length ? delays[Math.max(0, Math.ceil(p * delays.length) - 1)]! : null);
  return { appId, version, publishedAt: rec.detectedAt, upgraded: delays.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) };
}
