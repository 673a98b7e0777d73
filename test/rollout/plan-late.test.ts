import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DAY, HOUR, MINUTE } from '../../src/lib/clock.js';
import {
  DEFAULT_ROLLOUT_POLICY,
  LatePlanContext,
  lateBucketTime,
  maintenanceWindowEnd,
  nextCheckAt,
  type LateInput,
  type MaintenanceWindows,
  type PlannedVersion,
} from '../../src/rollout/index.js';

const T0 = Date.parse('2025-03-03T00:00:00Z'); // a Monday
const policy = DEFAULT_ROLLOUT_POLICY;
const v = (
  version: string,
  approval: 'automatic' | 'manual',
  publishedAt: number,
  kind: 'connect' | 'forge' = 'connect',
): PlannedVersion => ({
  appId: 'app',
  kind,
  version,
  bump: 'micro',
  approval,
  publishedAt,
});
const inst = (over: Partial<LateInput> = {}): LateInput => ({
  id: 'late-1',
  version: '1.0.0',
  checkOffsetMs: 6 * HOUR,
  maintenance: null,
  approvedUpTo: null,
  position: 100,
  knownAt: T0 + 10 * HOUR,
  ...over,
});

describe('LatePlanContext.steps (DESIGN.md "Rollout rules", measured from registration)', () => {
  const base = [v('1.0.0', 'automatic', T0 - DAY), v('1.0.1', 'automatic', T0 + 2 * HOUR)];

  it('Connect automatic: one upgrade at its first check after registration, never before it', () => {
    const ctx = new LatePlanContext(base, [{ version: '1.0.1', planEnd: 100 }], policy);
    const steps = ctx.steps(inst());
    // registered 10:00, checks at 06:00: the next check is tomorrow 06:00
    expect(steps).toEqual([
      {
        kind: 'upgrade',
        version: '1.0.1',
        dueAt: T0 + DAY + 6 * HOUR,
        exactAt: T0 + DAY + 6 * HOUR,
        at: T0 + DAY + 6 * HOUR,
      },
    ]);
  });

  it('nothing when the plan covered it, the plan has not finished, or it runs the newest version', () => {
    expect(new LatePlanContext(base, [{ version: '1.0.1', planEnd: 101 }], policy).steps(inst())).toEqual([]);
    expect(new LatePlanContext(base, [], policy).steps(inst())).toEqual([]);
    expect(
      new LatePlanContext(base, [{ version: '1.0.1', planEnd: 0 }], policy).steps(inst({ version: '1.0.1' })),
    ).toEqual([]);
    expect(
      new LatePlanContext(base, [{ version: '1.0.1', planEnd: 0 }], policy).steps(inst({ version: '1.2.0' })),
    ).toEqual([]); // never downgraded
    expect(
      new LatePlanContext(
        base,
        [
          { version: '1.0.1', planEnd: 7 },
          { version: '1.0.0', planEnd: 3 },
        ],
        policy,
      ).minPlanEnd,
    ).toBe(3);
    expect(new LatePlanContext(base, [], policy).minPlanEnd).toBe(Infinity);
  });

  it('supersession: one upgrade step, in the newest version it may reach', () => {
    const versions = [...base, v('1.0.2', 'automatic', T0 + 4 * HOUR)];
    const ctx = new LatePlanContext(
      versions,
      [
        { version: '1.0.1', planEnd: 0 },
        { version: '1.0.2', planEnd: 0 },
      ],
      policy,
    );
    expect(ctx.steps(inst()).map((s) => `${s.kind} ${s.version}`)).toEqual(['upgrade 1.0.2']);
    // 1.0.2's plan still running (it will read this installation): the late step is 1.0.1's
    const planning = new LatePlanContext(versions, [{ version: '1.0.1', planEnd: 0 }], policy);
    expect(planning.steps(inst()).map((s) => `${s.kind} ${s.version}`)).toEqual(['upgrade 1.0.1']);
  });

  it('manual: a notice at its next check, no upgrade without approval; it blocks later automatic versions', () => {
    const versions = [...base, v('1.1.0', 'manual', T0 + 3 * HOUR), v('1.1.1', 'automatic', T0 + 4 * HOUR)];
    const all = versions.slice(1).map((x) => ({ version: x.version, planEnd: 0 }));
    const ctx = new LatePlanContext(versions, all, policy);
    expect(ctx.steps(inst())).toEqual([
      {
        kind: 'upgrade',
        version: '1.0.1',
        dueAt: T0 + DAY + 6 * HOUR,
        exactAt: T0 + DAY + 6 * HOUR,
        at: T0 + DAY + 6 * HOUR,
      },
      { kind: 'notify', version: '1.1.0', at: T0 + DAY + 6 * HOUR },
    ]);
    // approved up to 1.1.0: the automatic 1.1.1 is reachable and supersedes
    expect(ctx.steps(inst({ approvedUpTo: '1.1.0' })).map((s) => `${s.kind} ${s.version}`)).toEqual(['upgrade 1.1.1']);
    // on 1.0.1 already: only the notice
    expect(ctx.steps(inst({ version: '1.0.1' })).map((s) => `${s.kind} ${s.version}`)).toEqual(['notify 1.1.0']);
  });

  it('a maintenance window defers the upgrade to its end, at most 4 h', () => {
    // Tuesday 06:00–07:30 UTC window over its 06:00 check
    const maintenance: MaintenanceWindows = {
      timeZone: 'UTC',
      weekly: [{ day: 2, start: '06:00', minutes: 90 }],
      adHoc: [],
    };
    const [step] = new LatePlanContext(base, [{ version: '1.0.1', planEnd: 0 }], policy).steps(inst({ maintenance }));
    expect(step).toMatchObject({
      kind: 'upgrade',
      dueAt: T0 + DAY + 6 * HOUR,
      exactAt: T0 + DAY + 7.5 * HOUR,
      at: T0 + DAY + 7.5 * HOUR,
    });
  });

  it('Forge: within the spread after registration', () => {
    const forge = [v('2.0.0', 'automatic', T0 - DAY, 'forge'), v('2.1.0', 'automatic', T0, 'forge')];
    const ctx = new LatePlanContext(forge, [{ version: '2.1.0', planEnd: 0 }], policy);
    const R = T0 + 3 * HOUR + 7_777;
    for (let i = 0; i < 200; i++) {
      const [s] = ctx.steps(inst({ id: `f${i}`, version: '2.0.0', knownAt: R }));
      if (s?.kind !== 'upgrade') throw new Error('expected an upgrade');
      expect(s.at).toBeGreaterThanOrEqual(R);
      expect(s.at - R).toBeLessThanOrEqual(policy.forgeSpreadMs + policy.forgeBucketMs);
      expect(s.dueAt - R).toBeLessThan(policy.forgeSpreadMs);
    }
  });

  it('property: an upgrade is never before registration, at most 24 h + 4 h after it, and outside windows unless the cap forced it', () => {
    const windows: fc.Arbitrary<MaintenanceWindows | null> = fc.option(
      fc.record({
        timeZone: fc.constantFrom('UTC', 'Europe/Berlin', 'Asia/Kolkata'),
        weekly: fc.array(
          fc.record({
            day: fc.integer({ min: 0, max: 6 }),
            start: fc
              .tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }))
              .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`),
            minutes: fc.integer({ min: 1, max: 10 * 60 }),
          }),
          { maxLength: 3 },
        ),
        adHoc: fc.constant([]),
      }),
      { freq: 2 },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: DAY / MINUTE - 1 }),
        fc.integer({ min: 0, max: 3 * DAY }),
        fc.integer({ min: 0, max: 2 * DAY }),
        windows,
        fc.constantFrom('connect' as const, 'forge' as const),
        (checkMin, published, after, maintenance, kind) => {
          const P = T0 + published;
          const R = P + after;
          const versions = [v('1.0.0', 'automatic', T0 - DAY, kind), v('1.0.1', 'automatic', P, kind)];
          const [s] = new LatePlanContext(versions, [{ version: '1.0.1', planEnd: 0 }], policy).steps(
            inst({ checkOffsetMs: checkMin * MINUTE, knownAt: R, maintenance }),
          );
          if (s?.kind !== 'upgrade') throw new Error('expected an upgrade');
          expect(s.at).toBeGreaterThanOrEqual(R);
          expect(s.dueAt).toBeGreaterThanOrEqual(R);
          expect(s.at - R).toBeLessThanOrEqual(24 * HOUR + 4 * HOUR);
          expect(s.exactAt - s.dueAt).toBeLessThanOrEqual(policy.maintenanceCapMs);
          if (kind === 'connect') expect(s.dueAt).toBe(nextCheckAt(checkMin * MINUTE, R, DAY));
          // as in the planner: inside a window only when the 4 h cap forced it
          if (maintenanceWindowEnd(maintenance, s.at) !== null)
            expect(s.exactAt).toBe(s.dueAt + policy.maintenanceCapMs);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('lateBucketTime: on the publication grid, never before the start', () => {
    const P = T0;
    const bucket = 5 * MINUTE;
    // exact 12:02, known at 12:01: the grid point 12:00 is before registration → 12:05
    expect(
      lateBucketTime(
        P + 12 * HOUR + 2 * MINUTE,
        P + 12 * HOUR + 2 * MINUTE,
        P + 12 * HOUR + MINUTE,
        P,
        bucket,
        null,
        4 * HOUR,
      ),
    ).toBe(P + 12 * HOUR + 5 * MINUTE);
    // known long before: the planner's own choice (12:00)
    expect(lateBucketTime(P + 12 * HOUR + 2 * MINUTE, P + 12 * HOUR + 2 * MINUTE, P, P, bucket, null, 4 * HOUR)).toBe(
      P + 12 * HOUR,
    );
    // 12:05 is in a window and 12:02 is not: the exact time
    const w: MaintenanceWindows = {
      timeZone: 'UTC',
      weekly: [],
      adHoc: [{ start: P + 12 * HOUR + 4 * MINUTE, end: P + 13 * HOUR }],
    };
    expect(
      lateBucketTime(
        P + 12 * HOUR + 2 * MINUTE,
        P + 12 * HOUR + 2 * MINUTE,
        P + 12 * HOUR + MINUTE,
        P,
        bucket,
        w,
        4 * HOUR,
      ),
    ).toBe(P + 12 * HOUR + 2 * MINUTE);
  });
});
