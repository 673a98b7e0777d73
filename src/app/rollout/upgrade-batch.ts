/**
 * An upgrade batch (DESIGN.md "Rollout rules"): when due, each installation of the batch goes to
 * the newest version it may have (`decideTarget`, recomputed from the store and `clock.now()`)
 * through the store's atomic compare-and-set, so early, late or repeated runs are harmless.
 *
 * A batch names its installations as a range of a planned bucket (the bucket's own list, or for a
 * bucket of kind `installations` the app's installation list itself) or as a list of ids.
 *
 * Two paths, with the same outcome: a range batch of a rollout without phases decides by version
 * (and, past a manual version, by approval), so the batch computes each ladder version's target
 * and the store moves the range inside Redis (`upgradeRange`, the fast path: no ids or versions
 * cross to Node), leaving to the slow path the installations whose approval could change their
 * target while the app has approvals; any other batch (phased, late, by ids) reads each
 * installation's state and decides one by one (the slow path).
 */
import semver from 'semver';
import { decideTarget } from '../../rollout/version-ladder.js';
import { cohortOf } from '../../rollout/phased-release.js';
import type { UpgradeBatchJob } from '../../jobs/queues.js';
import type { VersionMove } from '../../store/installation-store.js';
import type { VersionLadder } from '../../rollout/version-ladder.js';
import type { UpgradeCause } from '../../rollout/installation-history.js';
import type { RolloutContext } from '../context.js';
import { loadLadder } from './ladder.js';

/** Result of an upgrade batch. */
export interface UpgradeBatchResult {
  considered: number;
  moved: number;
  /** `halted`: the rollout was halted; `gone`: the version no longer exists (its app was removed). */
  skipped?: 'halted' | 'gone';
  progressPercent: number;
}

/**
 * A batch that finds nothing to do yet: `not-due` until `until` (clock ms), or `paused` (look
 * again after `settings.pauseRecheckMs` real ms). `progressPercent` is set when the batch
 * applied part of its work first. The worker adapter puts the job back to sleep.
 */
export type BatchWait =
  { kind: 'wait'; reason: 'not-due'; until: number } | { kind: 'wait'; reason: 'paused'; progressPercent?: number };

/**
 * True when a batch's rollout and version are both gone: the app was removed (`mpu apps
 * remove`). Logged once per batch; the batch then ends doing nothing (its installations are gone
 * too, and the store writes nothing for them anyway).
 */
export async function rolloutGone(
  ctx: Pick<RolloutContext, 'versions' | 'logger'>,
  appId: string,
  version: string,
  status: string | null,
): Promise<boolean> {
  if (status !== null || (await ctx.versions.getVersion(appId, version))) return false;
  ctx.logger.info(
    { event: 'rollout:batch:gone', appId, version },
    `batch of ${appId}@${version} skipped: the version no longer exists (app removed?)`,
  );
  return true;
}

/**
 * Applies one batch at `clock.now()`: each installation goes to the newest version it may have
 * (`decideTarget`), through the compare-and-set; a paused rollout's batch waits, a halted one's
 * does nothing, an early one goes back to sleep until due. A batch of late installations
 * (source `late`, rollout/plan-late.ts) stands in for the older versions they missed too: when
 * its version is halted it still applies (`loadLadder` leaves the halted version out), and when
 * it is paused it applies what it can and waits for the resume while any of them is below it.
 */
export async function applyUpgradeBatch(
  ctx: RolloutContext,
  data: UpgradeBatchJob,
): Promise<UpgradeBatchResult | BatchWait> {
  const { appId, version } = data;
  const late = data.source.kind === 'late';
  const status = await ctx.rollouts.status(appId, version);
  if (status === 'halted' && !late)
    return { considered: 0, moved: 0, skipped: 'halted', progressPercent: await progress(ctx, appId, version) };
  if (status === 'paused' && !late) return { kind: 'wait', reason: 'paused' };
  if (await rolloutGone(ctx, appId, version, status))
    return { considered: 0, moved: 0, skipped: 'gone', progressPercent: 0 };
  const now = ctx.clock.now();
  if (now < data.dueAt) return { kind: 'wait', reason: 'not-due', until: data.dueAt };
  const ladder = await loadLadder(ctx, appId);
  const phased = ladder.phases !== null;
  // The fast path first (see the module documentation); it leaves to the slow path the
  // installations on a version outside the ladder, and those on a version whose decision an
  // approval can change while the app has approvals.
  const src = data.source;
  let considered = 0;
  let moved = 0;
  let deferred = 0;
  const targetCounts = new Map<string, number>();
  // A range of a list: a planned bucket's own list, or the installation list itself (a bucket of
  // kind `installations`); else the batch carries its ids.
  const range =
    src.kind === 'bucket' || src.kind === 'installations'
      ? {
          list: ctx.rollouts.bucketList(appId, version, src.kind === 'bucket' ? 'upgrade' : 'installations', src.at),
          start: src.start,
          end: src.end,
        }
      : null;
  // What the slow path decides one by one: a range read whole, or a list of ids.
  let slowIds: readonly string[] | null = range ? null : (src as { ids: string[] }).ids;
  let fastDone = false;
  if (range && !phased) {
    const fast = await ctx.installs.upgradeRange(
      appId,
      version,
      range.list,
      range.start,
      range.end,
      targetsByVersion(ladder, now),
      now,
    );
    fastDone = true;
    ({ considered, moved, deferred } = fast);
    for (const [t, n] of fast.targets) targetCounts.set(t, n);
    slowIds = fast.unknown;
  }
  const {
    ids,
    versions: current,
    approved,
  } = slowIds !== null
    ? { ids: slowIds, ...(await ctx.installs.readStates(appId, slowIds)) }
    : await ctx.installs.readRangeStates(appId, range!.list, range!.start, range!.end);
  if (!fastDone) considered = ids.length;
  const moves: VersionMove[] = [];
  for (let k = 0; k < ids.length; k++) {
    const cur = current[k];
    if (!cur) continue;
    const d = decideTarget(ladder, cur, approved[k] ?? null, now, phased ? cohortOf(appId, ids[k]!) : undefined);
    if (d.target !== null)
      moves.push({
        id: ids[k]!,
        expected: cur,
        target: d.target,
        cause: d.approvedBetween.length > 0 ? 'approval' : 'automatic',
      });
  }
  const slow = await ctx.installs.applyMoves(appId, moves, now, version);
  moved += slow.moved;
  deferred += slow.deferred;
  for (const m of moves) targetCounts.set(m.target, (targetCounts.get(m.target) ?? 0) + 1);
  const fastMoves = moved - slow.moved;
  if (moved > 0) {
    const anyApproval = moves.some((m) => m.cause === 'approval');
    ctx.metrics.upgrades.inc({ app: appId, cause: anyApproval ? 'approval' : 'automatic' }, moved);
  }
  if (deferred > 0) ctx.metrics.upgradesDeferred.inc({ app: appId }, deferred);
  const r = await ctx.rollouts.get(appId, version);
  const view = r ? await ctx.rollouts.view(r) : null;
  const progressPercent = view?.progressPercent ?? 0;
  // Once every installation runs this version or newer, no batch of it has anything left to do:
  // its bucket lists (a million ids weigh ~40 MB) expire after a day instead of staying forever.
  if (view?.complete && view.plannedAt !== null) await ctx.rollouts.expireBuckets(appId, version, 86_400);
  ctx.events.emit('rollout:batch:applied', { appId, version, moved, progressPercent });
  if (view?.complete) ctx.events.emit('rollout:completed', { appId, version });
  // The operator's record of what the rollout did: every applied batch at info (a million
  // installations are ~500 batches). `cause` is what the decider chose for the moves it planned
  // (`mixed` when both); `moved` is what the compare-and-set applied (an installation that moved
  // meanwhile is left alone, so it can be fewer).
  // The fast path's moves are all automatic (it moves nobody past a manual version).
  const planned = moves.length + fastMoves;
  const approvals = moves.filter((m) => m.cause === 'approval').length;
  const cause = planned === 0 ? 'none' : approvals === 0 ? 'automatic' : approvals === planned ? 'approval' : 'mixed';
  const targets = [...targetCounts.keys()];
  ctx.logger.info(
    {
      event: 'rollout:batch:applied',
      appId,
      version,
      source: data.source.kind,
      considered,
      moved,
      cause,
      targets,
      progressPercent,
    },
    `upgrade batch of ${appId}@${version}: ${moved} of ${considered} installation(s) moved` +
      (moved > 0 ? ` to ${targets.join(', ')} (${cause})` : '') +
      `; rollout ${progressPercent} % done`,
  );
  if (late && status === 'paused') {
    const after = new Map(moves.map((m) => [m.id, m.target]));
    const waiting = ids.some((id, k) => {
      const v = after.get(id) ?? current[k];
      return v !== null && v !== undefined && semver.valid(v) !== null && semver.lt(v, version);
    });
    if (waiting) return { kind: 'wait', reason: 'paused', progressPercent };
  }
  return { considered, moved, progressPercent };
}

/**
 * The fast path's map: each version of `ladder` → the version an installation on it goes to at
 * `now` without any approval of its own (`decideTarget` with `approvedUpTo` null, no cohort), or
 * null when it stays; and whether an approval can change that (`approvalMatters`: the walk from
 * it stops at a manual version published by now, which only an approval passes; from any other
 * version the walk meets no manual version, so every installation on it gets the same decision
 * whatever it approved).
 */
export function targetsByVersion(
  ladder: VersionLadder,
  now: number,
): Map<string, { target: string | null; cause: UpgradeCause; approvalMatters: boolean }> {
  const out = new Map<string, { target: string | null; cause: UpgradeCause; approvalMatters: boolean }>();
  for (const v of ladder.versions) {
    const d = decideTarget(ladder, v.version, null, now);
    out.set(v.version, {
      target: d.target,
      cause: d.approvedBetween.length > 0 ? 'approval' : 'automatic',
      approvalMatters: d.blockedBy !== null,
    });
  }
  return out;
}

async function progress(ctx: RolloutContext, appId: string, version: string): Promise<number> {
  const r = await ctx.rollouts.get(appId, version);
  if (!r) return 0;
  return (await ctx.rollouts.view(r)).progressPercent;
}
