/**
 * Phased release of automatic versions and the error budget: pure rules, no I/O, no clock reads
 * (`now`, `at` are parameters; times epoch ms, durations ms).
 *
 * Phased release (opt-in; Apple App Store "Release a version update in phases": 1, 2, 5, 10, 20,
 * 50, 100 % of users over 7 days, a pause of at most 30 days in total, "release to all" at any
 * time; Google Play staged rollouts). A schedule is a list of increasing percentages ending at
 * 100 and one interval between steps. Phase `k` releases the version to the installations whose
 * stable cohort (`cohortOf`: a hash of app and installation, in [0, 100)) is below the phase's
 * percentage; each of them then takes it as DESIGN.md "Rollout rules" says, counted from the
 * phase's start instead of the publication: Connect at its next daily check, Forge within minutes,
 * a maintenance window deferring either at most 4 h. The cohorts of a lower percentage are a
 * subset of those of a higher one, and a cohort never depends on time, so pausing, resuming,
 * advancing or completing a rollout never reshuffles who has the version.
 *
 * Error budget (Argo Rollouts' analysis: an inconclusive or failed run pauses the rollout for an
 * operator to decide): a rollout whose reported upgrade failures exceed
 * `max(count, ratio × upgraded)` pauses itself.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AppError, ErrorCode } from '../lib/errors.js';
import { DAY, MINUTE } from '../lib/clock.js';

/** A phase schedule: `percents` strictly increasing in (0, 100], the last 100; a step every `intervalMs`. */
export interface PhaseSchedule {
  percents: number[];
  /** Time between the start of one phase and the next, ms. */
  intervalMs: number;
}

/**
 * Named schedules: `apple` is Apple's phased release (1, 2, 5, 10, 20, 50, 100 % over 7 days, a
 * day a phase); `forge` the same percentages a phase every 10 minutes, for Forge apps whose
 * automatic versions otherwise reach everyone within minutes (DESIGN.md "Rollout rules").
 */
export const PHASE_PRESETS: Readonly<Record<'apple' | 'forge', Readonly<PhaseSchedule>>> = Object.freeze({
  apple: Object.freeze({ percents: [1, 2, 5, 10, 20, 50, 100], intervalMs: DAY }),
  forge: Object.freeze({ percents: [1, 2, 5, 10, 20, 50, 100], intervalMs: 10 * MINUTE }),
});
export type PhasePreset = keyof typeof PHASE_PRESETS;

/** Apple's limit on the total time a phased release may be paused. */
export const DEFAULT_PAUSE_CAP_MS = 30 * DAY;

/** The schedule as the edges (HTTP, CLI, stored app settings) give it: validated by `parsePhaseSchedule`. */
export const PhaseScheduleSchema = z
  .object({
    percents: z
      .array(z.number().gt(0).max(100))
      .min(1)
      .max(100)
      .meta({ description: 'Increasing percentages of installations, the last 100' }),
    intervalMs: z
      .number()
      .int()
      .min(1000)
      .max(90 * DAY)
      .meta({ description: 'Time between phase starts, ms (1 s to 90 days)' }),
  })
  .superRefine((s, ctx) => {
    for (let i = 1; i < s.percents.length; i++)
      if (s.percents[i]! <= s.percents[i - 1]!)
        ctx.addIssue({ code: 'custom', path: ['percents', i], message: 'percentages must increase' });
    if (s.percents.at(-1) !== 100)
      ctx.addIssue({ code: 'custom', path: ['percents'], message: 'the last must be 100' });
  });

/**
 * Validates a schedule: a preset name (`apple`, `forge`) or `{ percents, intervalMs }`.
 * @throws AppError input-invalid naming every problem
 */
export function parsePhaseSchedule(input: unknown): PhaseSchedule {
  if (typeof input === 'string') {
    const preset = PHASE_PRESETS[input as PhasePreset];
    if (!preset)
      throw new AppError(
        ErrorCode.INPUT_INVALID,
        `unknown phased-release preset '${input}' (choose ${Object.keys(PHASE_PRESETS).join(', ')})`,
      );
    return { percents: [...preset.percents], intervalMs: preset.intervalMs };
  }
  const r = PhaseScheduleSchema.safeParse(input);
  if (!r.success)
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      'phase schedule invalid: ' +
        r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '),
    );
  return { percents: [...r.data.percents], intervalMs: r.data.intervalMs };
}

/**
 * The stable cohort of an installation: SHA-256 of `appId` and `installationId`, its first 48 bits
 * scaled to a percentile in [0, 100). The same installation of the same app always has the same
 * cohort, whatever the version or time, so every phased version of an app reaches the same
 * installations first.
 */
export function cohortOf(appId: string, installationId: string): number {
  const h = createHash('sha256').update(appId).update('\n').update(installationId).digest();
  return (h.readUIntBE(0, 6) / 2 ** 48) * 100;
}

/** Whether an installation of cohort `cohort` has the version at `percent` % (a cohort below it). */
export const inCohort = (cohort: number, percent: number): boolean => cohort < percent;

/**
 * The state of one phased rollout, kept with the rollout. Times epoch ms.
 * - `phase`: index into `schedule.percents` of the phase reached;
 * - `startedAt`: when that phase began (each installation it released counts its window from here);
 * - `nextStepAt`: when the next phase begins (null at the last phase); moved later by pauses;
 * - `released`: the percentage whose installations have been planned (the cohort slices up to it);
 * - `cohortSize`: installations within the current phase's percentage when it was released;
 * - `pausedAt`: start of the pause in progress, or null; `pausedMs`: total of the pauses ended.
 */
export interface PhaseState {
  schedule: PhaseSchedule;
  phase: number;
  startedAt: number;
  nextStepAt: number | null;
  released: number;
  cohortSize: number;
  pausedAt: number | null;
  pausedMs: number;
}

/** The percentage of the phase reached. */
export const phasePercent = (s: Pick<PhaseState, 'schedule' | 'phase'>): number =>
  s.schedule.percents[Math.min(s.phase, s.schedule.percents.length - 1)]!;

/** The index of the last phase (100 %). */
export const lastPhase = (s: Pick<PhaseState, 'schedule'>): number => s.schedule.percents.length - 1;

/** The state of a phased rollout whose first phase starts at `startAt` (its publication). */
export function startPhases(schedule: PhaseSchedule, startAt: number): PhaseState {
  return {
    schedule,
    phase: 0,
    startedAt: startAt,
    nextStepAt: schedule.percents.length > 1 ? startAt + schedule.intervalMs : null,
    released: 0,
    cohortSize: 0,
    pausedAt: null,
    pausedMs: 0,
  };
}

/**
 * The state once phase `to` (clamped to the last) begins at `at`: by the schedule (`at` =
 * `nextStepAt`), an operator's `advance` (the next phase now) or `complete` ("release to all":
 * the last phase now). A phase never goes back: `to` at or below the current phase changes nothing.
 */
export function stepPhases(s: PhaseState, to: number, at: number): PhaseState {
  const target = Math.min(to, lastPhase(s));
  if (target <= s.phase) return s;
  return { ...s, phase: target, startedAt: at, nextStepAt: target < lastPhase(s) ? at + s.schedule.intervalMs : null };
}

/** The state once the rollout is paused at `at` (a pause in progress stays as it began). */
export function pausePhases(s: PhaseState, at: number): PhaseState {
  return s.pausedAt !== null ? s : { ...s, pausedAt: at };
}

/**
 * The state once the rollout resumes at `at`: the pause's length joins `pausedMs` and the next
 * step moves later by as much, so a phase lasts its interval of unpaused time.
 */
export function resumePhases(s: PhaseState, at: number): PhaseState {
  if (s.pausedAt === null) return s;
  const paused = Math.max(0, at - s.pausedAt);
  return {
    ...s,
    pausedAt: null,
    pausedMs: s.pausedMs + paused,
    nextStepAt: s.nextStepAt === null ? null : s.nextStepAt + paused,
  };
}

/**
 * When the pause in progress reaches the cap on the total pause (`capMs`, Apple: 30 days), after
 * which the rollout resumes itself; null when not paused. At once when the cap is already spent.
 */
export function pauseCapAt(s: PhaseState, capMs: number): number | null {
  return s.pausedAt === null ? null : s.pausedAt + Math.max(0, capMs - s.pausedMs);
}

/**
 * Expected start of each phase from the current one on (index → epoch ms), with the state as it
 * is: later phases follow `nextStepAt` one interval apart; while paused the remaining steps are
 * unknown (null), since they move by the pause's length.
 */
export function phaseTimeline(s: PhaseState): { phase: number; percent: number; startsAt: number | null }[] {
  const out = [{ phase: s.phase, percent: phasePercent(s), startsAt: s.startedAt as number | null }];
  for (let k = s.phase + 1; k <= lastPhase(s); k++)
    out.push({
      phase: k,
      percent: s.schedule.percents[k]!,
      startsAt:
        s.pausedAt !== null || s.nextStepAt === null ? null : s.nextStepAt + (k - s.phase - 1) * s.schedule.intervalMs,
    });
  return out;
}

/** The error budget's settings: a rollout pauses when failures exceed `max(count, ratio × upgraded)`. */
export interface ErrorBudget {
  /** Failures always tolerated. @defaultValue 5 */
  count: number;
  /** Failures tolerated per upgraded installation. @defaultValue 0.05 */
  ratio: number;
}

export const DEFAULT_ERROR_BUDGET: Readonly<ErrorBudget> = Object.freeze({ count: 5, ratio: 0.05 });

/** The verdict of the error budget on a rollout. */
export interface ErrorBudgetVerdict {
  /** Failures tolerated: `max(count, floor(ratio × upgraded))`. */
  budget: number;
  exceeded: boolean;
  /** `error budget exceeded: 7 failures of 60 upgraded, budget 5` (or `… within …`). */
  reason: string;
}

/**
 * Judges `failures` reported in a rollout that has `upgraded` installations on its version (or a
 * newer one) against `budget`: exceeded when `failures > max(count, floor(ratio × upgraded))`.
 */
export function judgeErrorBudget(failures: number, upgraded: number, budget: ErrorBudget): ErrorBudgetVerdict {
  const allowed = Math.max(budget.count, Math.floor(budget.ratio * upgraded));
  const exceeded = failures > allowed;
  return {
    budget: allowed,
    exceeded,
    reason: `error budget ${exceeded ? 'exceeded' : 'kept'}: ${failures} failure${failures === 1 ? '' : 's'} of ${upgraded} upgraded, budget ${allowed}`,
  };
}
