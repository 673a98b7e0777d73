/**
 * The pure rules of phased releases and the error budget (src/rollout/phased-release.ts): schedule
 * validation, phase steps and their times, pause accounting and its cap, stable cohorts (a cohort
 * at p % is a subset of the cohort at q % for p < q), the planner's cohort slices, the decider's
 * phase gate, and the error budget's verdict.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DAY, HOUR, MINUTE } from '../../src/lib/clock.js';
import { isAppError } from '../../src/lib/errors.js';
import {
  DEFAULT_ERROR_BUDGET,
  DEFAULT_PAUSE_CAP_MS,
  PHASE_PRESETS,
  cohortOf,
  judgeErrorBudget,
  parsePhaseSchedule,
  pauseCapAt,
  pausePhases,
  phasePercent,
  phaseTimeline,
  resumePhases,
  startPhases,
  stepPhases,
} from '../../src/rollout/phased-release.js';
import { PlanContext, planChunk, PlanSummaryBuilder, type PlanInput } from '../../src/rollout/plan-rollout.js';
import { DEFAULT_ROLLOUT_POLICY } from '../../src/rollout/policy.js';
import { VersionLadder, decideTarget } from '../../src/rollout/version-ladder.js';
import type { PlannedVersion } from '../../src/rollout/types.js';

const T0 = Date.parse('2025-03-03T00:00:00Z');
const apple = parsePhaseSchedule('apple');

describe('phase schedules', () => {
  it('has the presets: Apple 1, 2, 5, 10, 20, 50, 100 % over 7 days; Forge the same every 10 minutes', () => {
    expect(apple).toEqual({ percents: [1, 2, 5, 10, 20, 50, 100], intervalMs: DAY });
    expect(parsePhaseSchedule('forge')).toEqual({ percents: [1, 2, 5, 10, 20, 50, 100], intervalMs: 10 * MINUTE });
    expect(PHASE_PRESETS.apple.percents.length * PHASE_PRESETS.apple.intervalMs).toBe(7 * DAY);
  });

  it.each([
    [{ percents: [10, 5, 100], intervalMs: HOUR }, 'percentages must increase'],
    [{ percents: [10, 50], intervalMs: HOUR }, 'the last must be 100'],
    [{ percents: [0, 100], intervalMs: HOUR }, 'percents.0'],
    [{ percents: [50, 100], intervalMs: 10 }, 'intervalMs'],
    [{ percents: [], intervalMs: HOUR }, 'percents'],
    ['weekly', "unknown phased-release preset 'weekly'"],
  ])('refuses %j: input-invalid naming the problem', (input, words) => {
    let err: unknown;
    try {
      parsePhaseSchedule(input);
    } catch (e) {
      err = e;
    }
    expect(isAppError(err, 'input-invalid')).toBe(true);
    expect((err as Error).message).toContain(words);
  });

  it('accepts a single 100 % phase (no steps) and fractional percentages', () => {
    expect(startPhases(parsePhaseSchedule({ percents: [100], intervalMs: HOUR }), T0).nextStepAt).toBeNull();
    expect(parsePhaseSchedule({ percents: [0.5, 2.5, 100], intervalMs: HOUR }).percents).toEqual([0.5, 2.5, 100]);
  });
});

describe('phase steps and times', () => {
  it('starts at phase 0 (1 %) at publication, the next step one interval later; each step one interval after the last', () => {
    let s = startPhases(apple, T0);
    expect([s.phase, phasePercent(s), s.startedAt, s.nextStepAt]).toEqual([0, 1, T0, T0 + DAY]);
    s = stepPhases(s, 1, s.nextStepAt!);
    expect([s.phase, phasePercent(s), s.startedAt, s.nextStepAt]).toEqual([1, 2, T0 + DAY, T0 + 2 * DAY]);
    expect(phaseTimeline(s).map((p) => [p.percent, p.startsAt])).toEqual([
      [2, T0 + DAY],
      [5, T0 + 2 * DAY],
      [10, T0 + 3 * DAY],
      [20, T0 + 4 * DAY],
      [50, T0 + 5 * DAY],
      [100, T0 + 6 * DAY],
    ]);
  });

  it('advance: the next phase now, later steps an interval apart from it; complete: the last phase, no next step', () => {
    const s = startPhases(apple, T0);
    const a = stepPhases(s, 1, T0 + 3 * HOUR);
    expect([a.phase, a.startedAt, a.nextStepAt]).toEqual([1, T0 + 3 * HOUR, T0 + 27 * HOUR]);
    const c = stepPhases(a, 99, T0 + 4 * HOUR);
    expect([c.phase, phasePercent(c), c.nextStepAt]).toEqual([6, 100, null]);
  });

  it('never goes back: stepping to a phase reached returns the same state (idempotent advance and complete)', () => {
    const s = stepPhases(startPhases(apple, T0), 3, T0 + HOUR);
    expect(stepPhases(s, 3, T0 + 2 * HOUR)).toBe(s);
    expect(stepPhases(s, 1, T0 + 2 * HOUR)).toBe(s);
    const done = stepPhases(s, 6, T0 + 3 * HOUR);
    expect(stepPhases(done, 6, T0 + 9 * HOUR)).toBe(done);
  });
});

describe('pause accounting', () => {
  it('a pause moves the next step later by its length and adds it to the total; no reshuffle of the phase', () => {
    let s = startPhases(apple, T0);
    s = pausePhases(s, T0 + 10 * HOUR);
    expect(pausePhases(s, T0 + 11 * HOUR)).toBe(s); // pausing twice keeps the first start
    expect(
      phaseTimeline(s)
        .slice(1)
        .every((p) => p.startsAt === null),
    ).toBe(true);
    s = resumePhases(s, T0 + 16 * HOUR);
    expect([s.phase, s.pausedAt, s.pausedMs, s.nextStepAt]).toEqual([0, null, 6 * HOUR, T0 + 30 * HOUR]);
    expect(resumePhases(s, T0 + 20 * HOUR)).toBe(s); // resuming a running one changes nothing
  });

  it('the cap (30 days by default, as Apple) counts every pause: a second pause ends where the total reaches it', () => {
    expect(DEFAULT_PAUSE_CAP_MS).toBe(30 * DAY);
    let s = pausePhases(startPhases(apple, T0), T0 + HOUR);
    expect(pauseCapAt(s, DEFAULT_PAUSE_CAP_MS)).toBe(T0 + HOUR + 30 * DAY);
    s = resumePhases(s, T0 + HOUR + 10 * DAY);
    expect(pauseCapAt(s, DEFAULT_PAUSE_CAP_MS)).toBeNull();
    s = pausePhases(s, T0 + 20 * DAY);
    expect(pauseCapAt(s, DEFAULT_PAUSE_CAP_MS)).toBe(T0 + 40 * DAY);
    // Spent already: the cap is the pause's start (it ends at once).
    s = resumePhases(s, T0 + 40 * DAY);
    s = pausePhases(s, T0 + 41 * DAY);
    expect(pauseCapAt(s, DEFAULT_PAUSE_CAP_MS)).toBe(T0 + 41 * DAY);
  });
});

describe('stable cohorts', () => {
  it('a cohort is a percentile in [0, 100), the same for the same app and installation, different across apps', () => {
    expect(cohortOf('app', 'inst-1')).toBe(cohortOf('app', 'inst-1'));
    expect(cohortOf('app', 'inst-1')).not.toBe(cohortOf('other', 'inst-1'));
    const ids = Array.from({ length: 20_000 }, (_, i) => `client-${i}`);
    const cs = ids.map((id) => cohortOf('app', id));
    expect(Math.min(...cs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...cs)).toBeLessThan(100);
    // Well spread: each decile holds about a tenth.
    for (let d = 0; d < 10; d++) {
      const n = cs.filter((c) => c >= d * 10 && c < (d + 1) * 10).length;
      expect(n).toBeGreaterThan(1700);
      expect(n).toBeLessThan(2300);
    }
  });

  it('property: for p < q, the installations at p % are a subset of those at q % (whatever the ids)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 200 }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        (appId, ids, a, b) => {
          const [p, q] = a < b ? [a, b] : [b, a];
          const atP = ids.filter((id) => cohortOf(appId, id) < p);
          const atQ = new Set(ids.filter((id) => cohortOf(appId, id) < q));
          return atP.every((id) => atQ.has(id));
        },
      ),
      { numRuns: 300 },
    );
  });
});

const v = (version: string, publishedAt: number, approval: 'automatic' | 'manual' = 'automatic'): PlannedVersion => ({
  appId: 'app',
  kind: 'connect',
  version,
  bump: 'micro',
  approval,
  publishedAt,
});
const inst = (id: string, version = '1.0.0'): PlanInput => ({
  id,
  version,
  checkOffsetMs: 5 * HOUR,
  maintenance: null,
  approvedUpTo: null,
});

describe('the planner with a cohort slice', () => {
  const versions = [v('1.0.0', T0 - DAY), v('1.0.1', T0)];
  const all = Array.from({ length: 5000 }, (_, i) => inst(`i-${i}`));

  it('plans exactly the slice, holds the others, and counts the cohort below the slice top', () => {
    const ctx = new PlanContext(versions[1]!, versions, DEFAULT_ROLLOUT_POLICY, { appId: 'app', from: 2, to: 5 });
    const sum = new PlanSummaryBuilder(T0);
    const buckets = planChunk(ctx, all, sum);
    const planned = new Set(buckets.flatMap((b) => b.ids));
    const expected = all.filter((i) => {
      const c = cohortOf('app', i.id);
      return c >= 2 && c < 5;
    });
    expect(planned).toEqual(new Set(expected.map((i) => i.id)));
    expect(sum.summary().held).toBe(all.length - expected.length);
    expect(ctx.cohortMembers).toBe(all.filter((i) => cohortOf('app', i.id) < 5).length);
  });

  it("counts each installation's window from the phase's start (its next daily check after it)", () => {
    const start = T0 + 2 * DAY + 6 * HOUR; // after the 05:00 check of that day
    const ctx = new PlanContext({ ...versions[1]!, publishedAt: start }, versions, DEFAULT_ROLLOUT_POLICY, {
      appId: 'app',
      from: 0,
      to: 100,
    });
    const step = ctx.step(inst('x'));
    expect(step).toMatchObject({ kind: 'upgrade', dueAt: T0 + 3 * DAY + 5 * HOUR });
  });

  it('without a slice the plan is unchanged (no held count in the summary)', () => {
    const ctx = new PlanContext(versions[1]!, versions, DEFAULT_ROLLOUT_POLICY);
    const sum = new PlanSummaryBuilder(T0);
    planChunk(ctx, all, sum);
    expect(sum.summary().upgrades).toBe(all.length);
    expect(sum.summary()).not.toHaveProperty('held');
  });
});

describe('the decider with phases', () => {
  const ladder = new VersionLadder(
    [v('1.0.0', T0 - DAY), v('1.0.1', T0), v('1.0.2', T0 + HOUR)],
    new Map([['1.0.2', 10]]),
  );

  it('takes a phased version only below the phase reached; the walk goes on to older targets', () => {
    expect(decideTarget(ladder, '1.0.0', null, T0 + 2 * HOUR, 9.99).target).toBe('1.0.2');
    expect(decideTarget(ladder, '1.0.0', null, T0 + 2 * HOUR, 10).target).toBe('1.0.1');
    expect(decideTarget(ladder, '1.0.1', null, T0 + 2 * HOUR, 50).target).toBeNull();
  });

  it('checks no phase without a cohort (callers that do not know the installation)', () => {
    expect(decideTarget(ladder, '1.0.0', null, T0 + 2 * HOUR).target).toBe('1.0.2');
  });
});

describe('the error budget', () => {
  it('pauses when failures exceed max(count, ratio × upgraded): 5 and 5 % by default', () => {
    expect(DEFAULT_ERROR_BUDGET).toEqual({ count: 5, ratio: 0.05 });
    expect(judgeErrorBudget(5, 60, DEFAULT_ERROR_BUDGET).exceeded).toBe(false);
    expect(judgeErrorBudget(7, 60, DEFAULT_ERROR_BUDGET)).toEqual({
      budget: 5,
      exceeded: true,
      reason: 'error budget exceeded: 7 failures of 60 upgraded, budget 5',
    });
    expect(judgeErrorBudget(50, 1000, DEFAULT_ERROR_BUDGET).exceeded).toBe(false);
    expect(judgeErrorBudget(51, 1000, DEFAULT_ERROR_BUDGET)).toMatchObject({ budget: 50, exceeded: true });
    expect(judgeErrorBudget(1, 0, { count: 0, ratio: 0 }).reason).toBe(
      'error budget exceeded: 1 failure of 0 upgraded, budget 0',
    );
  });
});
