/**
 * `mpu replay --installations N [--approve-share S]`: a simulated rollout of each replayed
 * version to a generated population, on a virtual clock, with no Redis; a share S of the
 * installations' admins approves each manual version. Pure.
 *
 * Publication times: a Connect version is published at the app's first poll slot after the commit
 * (polls every 5 h at a stable per-app offset: DESIGN.md, "Detection rules"); a Forge version at
 * its deploy (the commit time). Entries without a date are placed one day apart.
 */
import { pollSlot } from '../poller/poll-schedule.js';
import { generateInstallations } from '../rollout/generate-population.js';
import { simulateRollout, type SimulatedVersionResult } from '../rollout/simulate-rollout.js';
import { HOUR, DAY } from '../lib/clock.js';
import { AppError, ErrorCode } from '../lib/errors.js';
import type { Replay } from '../versioning/replay.js';

/** What a replayed version's rollout looked like. */
export interface ReplayRollout extends SimulatedVersionResult {
  /** Timeline index of the version. */
  index: number;
  /** When the change was made (commit), epoch ms. */
  changedAt: number;
}

/** Options of `simulateReplayRollout`. */
export interface ReplayRolloutOptions {
  installations: number;
  /** Population seed. @defaultValue 1 */
  seed?: number;
  /** Stands for the app in the poll offset. @defaultValue 'replay' */
  appId?: string;
  /** Poll interval. @defaultValue 5 h */
  pollIntervalMs?: number;
  /** Share (0 … 1) of installations whose admins approve each manual version (`SimulationOptions`). @defaultValue 0 */
  approveShare?: number;
}

/**
 * Runs the simulation over the versions of `replay`.
 * @throws AppError `input-invalid` for a history that moves from Connect to Forge: the adoption
 *   rollout (progressive over up to 120 hours) is not simulated.
 */
export function simulateReplayRollout(replay: Replay, opts: ReplayRolloutOptions): ReplayRollout[] {
  if (replay.kind === 'connect-to-forge')
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      '--installations is not available for a history that moves from Connect to Forge: the adoption rollout is not simulated; replay each part alone',
    );
  const kind = replay.kind;
  const appId = opts.appId ?? 'replay';
  const interval = opts.pollIntervalMs ?? 5 * HOUR;
  const entries = replay.timeline.filter((e) => e.status === 'version');
  if (entries.length === 0) return [];
  const base = Date.parse('2025-01-01T00:00:00Z');
  const changedAt = entries.map((e, i) => {
    const t = e.date ? Date.parse(e.date.length === 10 ? `${e.date}T12:00:00Z` : e.date) : NaN;
    return Number.isFinite(t) ? t : base + i * DAY;
  });
  const publishedAt = changedAt.map((t) => (kind === 'connect' ? pollSlot(appId, t, interval).nextDueAt : t));
  const population = generateInstallations({
    appId,
    count: opts.installations,
    seed: opts.seed ?? 1,
    version: entries[0]!.version!,
    now: changedAt[0],
  });
  const results = simulateRollout(
    kind,
    entries.map((e, i) => ({
      version: e.version!,
      bump: e.bump === 'error' ? 'none' : e.bump,
      approval: e.approval ?? 'automatic',
      publishedAt: publishedAt[i]!,
    })),
    population,
    {},
    { approveShare: opts.approveShare ?? 0 },
  );
  return results.map((r, i) => ({ ...r, index: entries[i]!.index, changedAt: changedAt[i]! }));
}
