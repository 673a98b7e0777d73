/**
 * Rollouts as operators see and steer them (DESIGN.md "Rollout rules"): list and show with live
 * progress, pause / resume / halt, the version distribution of an app, and the delays observed
 * in installations' histories. Throws AppError.
 */
import semver from 'semver';
import { AppError, ErrorCode } from '../../lib/errors.js';
import type { RolloutRecord, RolloutView } from '../../store/rollout-store.js';
import type { VersionReader } from '../../store/types.js';
import type { AppContext, RolloutContext } from '../context.js';
import { adoptionOfApp, adoptionView, findAdoption, type AdoptionView } from './adoption.js';
import { phasedView, schedulePauseCap, type PhasedView } from './phased-release.js';

/**
 * A rollout's view; `adoption` when it is a Connect to Forge adoption rollout; `phased` when it
 * is a phased release (phase, cohort size, next step); `failures`: failed upgrades reported
 * (the error budget).
 */
export type RolloutAdoptionView = RolloutView & { adoption?: AdoptionView; phased?: PhasedView; failures: number };

/**
 * The view of a rollout; a Forge version adopting a Connect app is a `connect-to-forge`
 * rollout: its progress counts the sites on Forge out of all sites of both apps (`reached` of
 * `installations`), complete when none is left on Connect.
 */
async function viewOf(ctx: RolloutContext, r: RolloutRecord): Promise<RolloutAdoptionView> {
  const [base, failures] = await Promise.all([ctx.rollouts.view(r), ctx.rollouts.failureCount(r.appId, r.version)]);
  const phased = phasedView(r, ctx.clock.now(), ctx.settings.phasedPauseCapMs);
  const view: RolloutAdoptionView = { ...base, failures, ...(phased ? { phased } : {}) };
  const a = r.kind === 'forge' ? await findAdoption(ctx, r.appId, r.version) : null;
  if (!a) return view;
  const adoption = await adoptionView(ctx, a);
  return {
    ...view,
    installations: adoption.onConnect + adoption.onForge,
    reached: adoption.onForge,
    progressPercent: adoption.progressPercent,
    complete: adoption.onConnect === 0,
    adoption,
  };
}

/** Rollouts with live progress, newest first. */
export async function listRollouts(
  ctx: RolloutContext,
  opts: { appId?: string; limit?: number } = {},
): Promise<RolloutAdoptionView[]> {
  const records = await ctx.rollouts.list(opts);
  return Promise.all(records.map((r) => viewOf(ctx, r)));
}

/** One rollout with progress and its buckets. @throws AppError rollout-not-found */
export async function showRollout(
  ctx: RolloutContext,
  appId: string,
  version: string,
): Promise<RolloutAdoptionView & { buckets: { kind: string; at: number; size: number }[] }> {
  const r = await requireRollout(ctx, appId, version);
  const [view, buckets] = await Promise.all([viewOf(ctx, r), ctx.rollouts.listBuckets(appId, version)]);
  return { ...view, buckets };
}

async function requireRollout(ctx: RolloutContext, appId: string, version: string): Promise<RolloutRecord> {
  const r = await ctx.rollouts.get(appId, version);
  if (!r)
    throw new AppError(ErrorCode.ROLLOUT_NOT_FOUND, `no rollout of ${appId}@${version} (see 'mpu rollouts list')`);
  return r;
}

/**
 * Pause (pending batches wait), resume, or halt (final: pending batches do nothing and the plan's
 * buckets are deleted; installations already upgraded stay upgraded — they never move back).
 * @throws AppError rollout-not-found; rollout-conflict (resume or pause a halted rollout)
 */
export async function controlRollout(
  ctx: RolloutContext,
  appId: string,
  version: string,
  action: 'pause' | 'resume' | 'halt',
  by = 'operator',
): Promise<RolloutAdoptionView> {
  const at = ctx.clock.now();
  const reason = `${action === 'pause' ? 'paused' : action === 'resume' ? 'resumed' : 'halted'} by ${by}`;
  const { changed } = await ctx.rollouts.transitionWith(appId, version, action, { at, by, reason });
  if (action === 'halt') await ctx.rollouts.clearBuckets(appId, version);
  if (changed && action === 'pause') {
    await schedulePauseCap(ctx, appId, version);
    ctx.events.emit('rollout:paused', { appId, version, by, reason, at });
  }
  if (changed && action === 'resume') ctx.events.emit('rollout:resumed', { appId, version, by, reason, at });
  ctx.logger.info({ event: `rollout:${action}`, appId, version, by }, `rollout ${appId}@${version}: ${action}`);
  return viewOf(ctx, (await requireRollout(ctx, appId, version))!);
}

/**
 * How many installations run each version, newest version first (`percent`: of `total`, two
 * decimals). A registered app with no installations has `total` 0; installations registered
 * for an app id before (or without) its app record still count.
 * @throws AppError app-not-found when the app is neither registered nor has installations (a
 *   typo, a removed app): CLI exit 66, HTTP 404, as every other command that names an app,
 *   instead of an empty distribution.
 * An app taking part in a Connect to Forge adoption (either app) also gets `adoption`: the
 * sites on each of the two apps.
 */
export async function versionDistribution(
  ctx: Pick<AppContext, 'apps' | 'installs' | 'descriptors' | 'rolloutPolicy'> & { versions: VersionReader },
  appId: string,
): Promise<{
  appId: string;
  total: number;
  versions: { version: string; count: number; percent: number }[];
  adoption?: AdoptionView;
}> {
  const [app, dist] = await Promise.all([ctx.apps.getApp(appId), ctx.installs.distribution(appId)]);
  if (!app && Object.keys(dist).length === 0) await ctx.apps.requireApp(appId); // throws app-not-found
  const total = Object.values(dist).reduce((a, b) => a + b, 0);
  const versions = Object.entries(dist)
    .sort(([a], [b]) => (semver.valid(a) && semver.valid(b) ? semver.rcompare(a, b) : a < b ? 1 : -1))
    .map(([version, count]) => ({ version, count, percent: total ? Math.round((count / total) * 10_000) / 100 : 0 }));
  const a = app ? await adoptionOfApp(ctx, appId) : null;
  return { appId, total, versions, ...(a ? { adoption: await adoptionView(ctx, a) } : {}) };
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
    const move = history.find(
      (e) => e.kind === 'upgraded' && e.at >= rec.detectedAt && semver.valid(e.to) && semver.gte(e.to, version),
    );
    if (move) delays.push(move.at - rec.detectedAt);
  }
  delays.sort((a, b) => a - b);
  const at = (p: number) => (delays.length ? delays[Math.max(0, Math.ceil(p * delays.length) - 1)]! : null);
  return {
    appId,
    version,
    publishedAt: rec.detectedAt,
    upgraded: delays.length,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: at(1),
  };
}
