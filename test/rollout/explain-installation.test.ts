/**
 * The "why is this installation not updated?" explanation and the update check's answer
 * (src/rollout/explain-installation.ts), pure: each reason at the times DESIGN.md "Rollout
 * rules" gives, and the same promise times as the planner.
 */
import { describe, expect, it } from 'vitest';
import { DAY, HOUR, MINUTE } from '../../src/lib/clock.js';
import {
  describeReason,
  explainInstallation,
  promisedUpgrade,
  updateCheckOf,
  type ExplainInput,
  type ExplainedInstallation,
} from '../../src/rollout/explain-installation.js';
import { PlanContext } from '../../src/rollout/plan-rollout.js';
import { DEFAULT_ROLLOUT_POLICY } from '../../src/rollout/policy.js';
import type { PlannedVersion } from '../../src/rollout/types.js';
import { cohortOf, parsePhaseSchedule, startPhases, stepPhases } from '../../src/rollout/phased-release.js';

const T0 = Date.parse('2025-03-03T00:00:00Z'); // a Monday
const pol = DEFAULT_ROLLOUT_POLICY;
const v = (version: string, publishedAt: number, approval: 'automatic' | 'manual' = 'automatic'): PlannedVersion => ({
  appId: 'c',
  kind: 'connect',
  version,
  bump: approval === 'manual' ? 'minor' : 'micro',
  approval,
  publishedAt,
});
const inst = (over: Partial<ExplainedInstallation> = {}): ExplainedInstallation => ({
  id: 'i-1',
  version: '1.0.0',
  checkOffsetMs: 6 * HOUR, // checks at 06:00 UTC
  maintenance: null,
  approvedUpTo: null,
  knownAt: T0 - 10 * DAY,
  approvedAt: {},
  ...over,
});
const input = (over: Partial<ExplainInput>): ExplainInput => ({
  installation: inst(),
  versions: [v('1.0.0', T0 - 30 * DAY)],
  rollouts: new Map(),
  notices: new Map(),
  policy: pol,
  reminderIntervalMs: 3 * DAY,
  now: T0,
  ...over,
});

describe('explainInstallation', () => {
  it('a phased release: "phase not reached" until a phase covers its cohort, then its check after that phase starts', () => {
    const cohort = cohortOf('c', 'i-1');
    const schedule = parsePhaseSchedule({ percents: [1, 2, 5, 10, 20, 50, 100], intervalMs: DAY });
    // the phase just below the installation's cohort, and the one that covers it
    const below = schedule.percents.filter((p) => p <= cohort).length - 1;
    const covers = schedule.percents.findIndex((p) => cohort < p);
    const versions = [v('1.0.0', T0 - 30 * DAY), v('1.0.1', T0 + HOUR)];
    let phased = startPhases(schedule, T0 + HOUR);
    if (below >= 0) phased = stepPhases(phased, below, T0 + HOUR + below * DAY);
    const now = T0 + HOUR + Math.max(below, 0) * DAY + 2 * HOUR;
    const waiting = explainInstallation(
      input({ versions, appId: 'c', rollouts: new Map([['1.0.1', { status: 'scheduled' as const, phased }]]), now }),
    );
    expect(waiting.shouldRun).toBe('1.0.0');
    expect(waiting.reasons).toEqual([
      {
        kind: 'phase-not-reached',
        version: '1.0.1',
        cohort,
        percent: schedule.percents[Math.max(below, 0)],
        nextStepAt: phased.nextStepAt,
      },
    ]);
    expect(describeReason(waiting.reasons[0]!)).toMatch(
      /^phase not reached: 1\.0\.1 is a phased release at \d+ % and this installation's cohort is [\d.]+ %; the next phase starts at /,
    );
    const at = phased.nextStepAt!;
    const reached = stepPhases(phased, covers, at);
    const after = explainInstallation(
      input({
        versions,
        appId: 'c',
        rollouts: new Map([['1.0.1', { status: 'scheduled' as const, phased: reached }]]),
        now: at + MINUTE,
      }),
    );
    // its next daily check after the covering phase began
    expect(after.reasons).toEqual([
      { kind: 'waiting-for-check', version: '1.0.1', checkAt: promisedUpgrade(v('1.0.1', at), inst(), pol).dueAt },
    ]);
  });

  it('up to date on the newest version; next check at its daily time', () => {
    const e = explainInstallation(input({ now: T0 + HOUR }));
    expect(e.reasons).toEqual([{ kind: 'up-to-date', version: '1.0.0' }]);
    expect(e.nextCheckAt).toBe(T0 + 6 * HOUR);
    expect(updateCheckOf(e, T0 + HOUR)).toMatchObject({ status: 'up-to-date', run: '1.0.0' });
  });

  it('waits for its next daily check; after it, the promise says the new version (overdue until applied)', () => {
    const versions = [v('1.0.0', T0 - 30 * DAY), v('1.0.1', T0 + HOUR)];
    const before = explainInstallation(input({ versions, now: T0 + 2 * HOUR }));
    expect(before.reasons).toEqual([{ kind: 'waiting-for-check', version: '1.0.1', checkAt: T0 + 6 * HOUR }]);
    expect(describeReason(before.reasons[0]!)).toBe(
      'waiting for its next daily check at 2025-03-03T06:00:00.000Z to take 1.0.1',
    );
    const after = explainInstallation(input({ versions, now: T0 + 7 * HOUR }));
    expect(after.shouldRun).toBe('1.0.1');
    expect(after.reasons[0]).toMatchObject({ kind: 'overdue', version: '1.0.1' });
    expect(updateCheckOf(after, T0 + 7 * HOUR)).toMatchObject({ status: 'update', run: '1.0.1', current: '1.0.0' });
    // once applied, up to date
    const done = explainInstallation(input({ versions, installation: inst({ version: '1.0.1' }), now: T0 + 7 * HOUR }));
    expect(done.reasons).toEqual([{ kind: 'up-to-date', version: '1.0.1' }]);
  });

  it('a maintenance window defers the upgrade to its end, at the planner’s bucket time', () => {
    const maintenance = { timeZone: 'UTC', weekly: [{ day: 1, start: '05:00', minutes: 150 }], adHoc: [] };
    const versions = [v('1.0.0', T0 - 30 * DAY), v('1.0.1', T0 + HOUR)];
    const e = explainInstallation(input({ versions, installation: inst({ maintenance }), now: T0 + 2 * HOUR }));
    expect(e.reasons).toEqual([
      { kind: 'waiting-for-check', version: '1.0.1', checkAt: T0 + 6 * HOUR },
      {
        kind: 'deferred-by-window',
        version: '1.0.1',
        dueAt: T0 + 6 * HOUR,
        until: T0 + 7 * HOUR + 30 * MINUTE,
        window: { kind: 'weekly', day: 1, start: '05:00', minutes: 150, timeZone: 'UTC' },
      },
    ]);
    expect(describeReason(e.reasons[1]!)).toBe(
      'deferred by its maintenance window until 2025-03-03T07:30:00.000Z (window weekly Mon 05:00 for 150 min (UTC); due 2025-03-03T06:00:00.000Z)',
    );
    // the planner puts it in the same bucket
    const plan = new PlanContext(versions[1]!, versions, pol);
    const step = plan.step({ id: 'i-1', version: '1.0.0', checkOffsetMs: 6 * HOUR, maintenance, approvedUpTo: null });
    expect(step).toMatchObject({ kind: 'upgrade', at: T0 + 7 * HOUR + 30 * MINUTE });
    expect(promisedUpgrade(versions[1]!, inst({ maintenance }), pol).at).toBe(T0 + 7 * HOUR + 30 * MINUTE);
  });

  it('a manual version needs approval (notice, reminders) and blocks a later automatic one', () => {
    const versions = [v('1.0.0', T0 - 30 * DAY), v('1.1.0', T0 + HOUR, 'manual'), v('1.1.1', T0 + 2 * HOUR)];
    const notices = new Map([['1.1.0', { notifiedAt: T0 + 6 * HOUR, remindedAt: [T0 + 3 * DAY + 6 * HOUR] }]]);
    const now = T0 + 4 * DAY;
    const e = explainInstallation(input({ versions, notices, now }));
    expect(e.shouldRun).toBe('1.0.0');
    expect(e.reasons).toEqual([
      {
        kind: 'needs-approval',
        version: '1.1.0',
        showsAt: T0 + 6 * HOUR,
        notifiedAt: T0 + 6 * HOUR,
        remindedAt: [T0 + 3 * DAY + 6 * HOUR],
        nextReminderAt: T0 + 6 * DAY + 6 * HOUR,
      },
      { kind: 'blocked-behind', version: '1.1.1', blockedBy: '1.1.0' },
    ]);
    expect(updateCheckOf(e, now)).toMatchObject({ status: 'approval-needed', needsApproval: '1.1.0', run: '1.0.0' });
    // before its check, the update is not shown yet
    const early = explainInstallation(input({ versions, now: T0 + 3 * HOUR }));
    expect(updateCheckOf(early, T0 + 3 * HOUR)).toMatchObject({ status: 'up-to-date', needsApproval: null });
    // approved: it runs the newest at once (no window)
    const ok = explainInstallation(
      input({ versions, now, installation: inst({ approvedUpTo: '1.1.0', approvedAt: { '1.1.0': now - MINUTE } }) }),
    );
    expect(ok.shouldRun).toBe('1.1.1');
  });

  it('a paused or halted rollout is named with who and when; the installation stays', () => {
    const versions = [v('1.0.0', T0 - 30 * DAY), v('1.0.1', T0 + HOUR)];
    const rollouts = new Map([['1.0.1', { status: 'paused' as const, by: 'ops-alice', at: T0 + 90 * MINUTE }]]);
    const e = explainInstallation(input({ versions, rollouts, now: T0 + DAY }));
    expect(e.shouldRun).toBe('1.0.0');
    expect(e.reasons).toEqual([{ kind: 'rollout-paused', version: '1.0.1', by: 'ops-alice', at: T0 + 90 * MINUTE }]);
    expect(describeReason(e.reasons[0]!)).toBe(
      'the rollout of 1.0.1 is paused by ops-alice at 2025-03-03T01:30:00.000Z',
    );
    const halted = new Map([['1.0.1', { status: 'halted' as const }]]);
    const h = explainInstallation(input({ versions, rollouts: halted, now: T0 + DAY }));
    expect(h.latest).toBe('1.0.0');
    expect(h.reasons[0]).toEqual({ kind: 'rollout-halted', version: '1.0.1', by: null, at: null });
  });

  it('an installation registered after the publication is promised from its registration', () => {
    const versions = [v('1.0.0', T0 - 30 * DAY), v('1.0.1', T0 + HOUR)];
    const e = explainInstallation(
      input({ versions, installation: inst({ knownAt: T0 + 7 * HOUR }), now: T0 + 8 * HOUR }),
    );
    expect(e.reasons).toEqual([{ kind: 'waiting-for-check', version: '1.0.1', checkAt: T0 + DAY + 6 * HOUR }]);
  });

  it('app removed', () => {
    const e = explainInstallation(input({ appRemoved: true }));
    expect(e.reasons).toEqual([{ kind: 'app-removed' }]);
    expect(updateCheckOf(e, T0).status).toBe('app-removed');
  });
});
