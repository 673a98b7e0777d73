import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DAY, HOUR, MINUTE } from '../../src/lib/clock.js';
import {
  DEFAULT_ROLLOUT_POLICY,
  PlanContext,
  PlanSummaryBuilder,
  VersionLadder,
  decideTarget,
  deferForMaintenance,
  generateInstallations,
  maintenanceWindowEnd,
  nextCheckAt,
  planChunk,
  planRollout,
  simulateRollout,
  type MaintenanceWindows,
  type PlanInput,
  type PlannedVersion,
} from '../../src/rollout/index.js';

const T0 = Date.parse('2025-03-01T00:00:00Z');
const policy = DEFAULT_ROLLOUT_POLICY;
const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Sydney', 'Pacific/Chatham'];

const windowsArb: fc.Arbitrary<MaintenanceWindows | null> = fc.option(
  fc.record({
    timeZone: fc.constantFrom(...ZONES),
    weekly: fc.array(
      fc.record({
        day: fc.integer({ min: 0, max: 6 }),
        start: fc
          .tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }))
          .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`),
        minutes: fc.integer({ min: 1, max: 3 * 24 * 60 }),
      }),
      { maxLength: 4 },
    ),
    adHoc: fc.array(
      fc
        .tuple(fc.integer({ min: -DAY, max: 3 * DAY }), fc.integer({ min: 1, max: 12 * HOUR }))
        .map(([s, len]) => ({ start: T0 + s, end: T0 + s + len })),
      { maxLength: 2 },
    ),
  }),
  { freq: 3 },
);

const instArb: fc.Arbitrary<PlanInput> = fc.record({
  id: fc.string({ minLength: 1, maxLength: 20 }),
  version: fc.constant('1.0.0'),
  checkOffsetMs: fc.integer({ min: 0, max: DAY / MINUTE - 1 }).map((m) => m * MINUTE),
  maintenance: windowsArb,
  approvedUpTo: fc.constant(null),
});
const publishedArb = fc.integer({ min: 0, max: 2 * DAY }).map((d) => T0 + d);

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

describe('planner properties (seed 003 bounds)', () => {
  it('Connect automatic: every upgrade lands at or after publication and ≤ 24 h + 4 h after it; deferral ≤ 4 h', () => {
    fc.assert(
      fc.property(instArb, publishedArb, (inst, p) => {
        const ctx = new PlanContext(v('1.0.1', 'automatic', p), [v('1.0.0', 'automatic', T0 - DAY)], policy);
        const step = ctx.step(inst);
        expect(step.kind).toBe('upgrade');
        if (step.kind !== 'upgrade') return;
        expect(step.at).toBeGreaterThanOrEqual(p);
        expect(step.at - p).toBeLessThanOrEqual(24 * HOUR + 4 * HOUR);
        expect(step.dueAt - p).toBeLessThan(24 * HOUR);
        expect(step.exactAt - step.dueAt).toBeLessThanOrEqual(4 * HOUR);
        expect(step.exactAt).toBeGreaterThanOrEqual(step.dueAt);
      }),
      { numRuns: 500 },
    );
  });

  it('no upgrade inside a maintenance window unless the 4 h cap forced it', () => {
    fc.assert(
      fc.property(instArb, publishedArb, fc.constantFrom('connect' as const, 'forge' as const), (inst, p, kind) => {
        const ctx = new PlanContext(
          v('2.1.0', 'automatic', p, kind),
          [v('2.0.0', 'automatic', T0 - DAY, kind)],
          policy,
        );
        const step = ctx.step({ ...inst, version: '2.0.0' });
        if (step.kind !== 'upgrade') throw new Error('expected upgrade');
        const inWindow = maintenanceWindowEnd(inst.maintenance, step.at) !== null;
        if (inWindow) expect(step.exactAt).toBe(step.dueAt + policy.maintenanceCapMs);
      }),
      { numRuns: 500 },
    );
  });

  it('Forge automatic: within the configured spread, plus at most the 4 h cap when a window defers it', () => {
    fc.assert(
      fc.property(instArb, publishedArb, fc.integer({ min: 0, max: 30 * MINUTE }), (inst, p, spread) => {
        const pol = { ...policy, forgeSpreadMs: spread };
        const ctx = new PlanContext(
          v('2.1.0', 'automatic', p, 'forge'),
          [v('2.0.0', 'automatic', T0 - DAY, 'forge')],
          pol,
        );
        const step = ctx.step({ ...inst, version: '2.0.0' });
        if (step.kind !== 'upgrade') throw new Error('expected upgrade');
        expect(step.at).toBeGreaterThanOrEqual(p);
        expect(step.dueAt - p).toBeLessThanOrEqual(spread);
        if (inst.maintenance === null) expect(step.at - p).toBeLessThanOrEqual(spread);
        else expect(step.at - p).toBeLessThanOrEqual(spread + 4 * HOUR);
      }),
      { numRuns: 500 },
    );
  });

  it('manual never upgrades without approval, and blocks later automatic versions until approved', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('automatic' as const, 'manual' as const), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 0, max: 8 }),
        fc.option(fc.integer({ min: 0, max: 8 })),
        (approvals, currentIdx, approvedIdx) => {
          const versions = [
            v('1.0.0', 'automatic', T0),
            ...approvals.map((a, i) => v(`1.${i + 1}.0`, a, T0 + (i + 1) * HOUR)),
          ];
          const ladder = new VersionLadder(versions);
          const cur = versions[Math.min(currentIdx, versions.length - 1)]!.version;
          const approved = approvedIdx === null ? null : versions[Math.min(approvedIdx, versions.length - 1)]!.version;
          const d = decideTarget(ladder, cur, approved, T0 + 100 * HOUR);
          if (d.target !== null) {
            const ti = ladder.rank(d.target);
            expect(ti).toBeGreaterThan(ladder.rank(cur)); // forward only
            for (let i = ladder.rank(cur) + 1; i <= ti; i++) {
              const vi = ladder.get(i)!;
              if (vi.approval === 'manual') expect(approved !== null && ladder.rank(approved) >= i).toBe(true);
            }
          }
          // every plan step for every version agrees: manual unapproved → never upgrade
          for (const target of versions.slice(1)) {
            const step = new PlanContext(target, versions, policy).step({
              id: 'x',
              version: cur,
              checkOffsetMs: 0,
              maintenance: null,
              approvedUpTo: approved,
            });
            const approvedTarget = approved !== null && ladder.rank(approved) >= ladder.rank(target.version);
            if (target.approval === 'manual' && !approvedTarget) expect(step.kind).not.toBe('upgrade');
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('decideTarget', () => {
  const versions = [
    v('1.0.0', 'automatic', T0),
    v('1.0.1', 'automatic', T0 + HOUR),
    v('1.1.0', 'manual', T0 + 2 * HOUR),
    v('1.1.1', 'automatic', T0 + 3 * HOUR),
  ];
  const ladder = new VersionLadder(versions);
  it.each`
    current    | approved   | now               | target     | between      | blockedBy
    ${'1.0.0'} | ${null}    | ${T0 + 10 * HOUR} | ${'1.0.1'} | ${[]}        | ${'1.1.0'}
    ${'1.0.0'} | ${null}    | ${T0 + HOUR - 1}  | ${null}    | ${[]}        | ${null}
    ${'1.0.1'} | ${'1.1.0'} | ${T0 + 10 * HOUR} | ${'1.1.1'} | ${['1.1.0']} | ${null}
    ${'1.0.0'} | ${'1.1.1'} | ${T0 + 10 * HOUR} | ${'1.1.1'} | ${['1.1.0']} | ${null}
    ${'1.1.1'} | ${null}    | ${T0 + 10 * HOUR} | ${null}    | ${[]}        | ${null}
  `('$current approved $approved → $target', ({ current, approved, now, target, between, blockedBy }) => {
    expect(decideTarget(ladder, current, approved, now)).toEqual({ target, approvedBetween: between, blockedBy });
  });
});

describe('maintenance windows', () => {
  // 2025-03-03 is a Monday. Berlin is UTC+1 in March before the 30th.
  const berlin: MaintenanceWindows = {
    timeZone: 'Europe/Berlin',
    weekly: [{ day: 1, start: '02:00', minutes: 120 }],
    adHoc: [],
  };
  const mon0230Berlin = Date.parse('2025-03-03T01:30:00Z');
  it('a time inside the window moves to its end', () => {
    expect(maintenanceWindowEnd(berlin, mon0230Berlin)).toBe(Date.parse('2025-03-03T03:00:00Z'));
    expect(deferForMaintenance(berlin, mon0230Berlin, 4 * HOUR)).toBe(Date.parse('2025-03-03T03:00:00Z'));
  });
  it('the end is exclusive and outside times are untouched', () => {
    expect(maintenanceWindowEnd(berlin, Date.parse('2025-03-03T03:00:00Z'))).toBeNull();
    expect(deferForMaintenance(berlin, Date.parse('2025-03-03T00:59:00Z'), 4 * HOUR)).toBe(
      Date.parse('2025-03-03T00:59:00Z'),
    );
  });
  it('a long window defers at most 4 h', () => {
    const long: MaintenanceWindows = {
      timeZone: 'UTC',
      weekly: [{ day: 6, start: '00:00', minutes: 8 * 60 }],
      adHoc: [],
    };
    const sat01 = Date.parse('2025-03-01T01:00:00Z');
    expect(deferForMaintenance(long, sat01, 4 * HOUR)).toBe(sat01 + 4 * HOUR);
  });
  it('follows daylight saving time (New York, 2025-03-09)', () => {
    const ny: MaintenanceWindows = {
      timeZone: 'America/New_York',
      weekly: [{ day: 1, start: '01:00', minutes: 60 }],
      adHoc: [],
    };
    expect(maintenanceWindowEnd(ny, Date.parse('2025-03-03T06:30:00Z'))).toBe(Date.parse('2025-03-03T07:00:00Z')); // EST
    expect(maintenanceWindowEnd(ny, Date.parse('2025-03-10T05:30:00Z'))).toBe(Date.parse('2025-03-10T06:00:00Z')); // EDT
  });
  it('a window running past midnight, and back-to-back ad-hoc windows', () => {
    const w: MaintenanceWindows = { timeZone: 'UTC', weekly: [{ day: 0, start: '23:00', minutes: 120 }], adHoc: [] };
    expect(maintenanceWindowEnd(w, Date.parse('2025-03-03T00:30:00Z'))).toBe(Date.parse('2025-03-03T01:00:00Z'));
    const a: MaintenanceWindows = {
      timeZone: 'UTC',
      weekly: [],
      adHoc: [
        { start: T0, end: T0 + HOUR },
        { start: T0 + HOUR, end: T0 + 2 * HOUR },
      ],
    };
    expect(deferForMaintenance(a, T0 + 10 * MINUTE, 4 * HOUR)).toBe(T0 + 2 * HOUR);
  });
});

describe('plan stream and summary', () => {
  it('nextCheckAt is the first check at or after t', () => {
    expect(nextCheckAt(HOUR, T0, DAY)).toBe(T0 + HOUR);
    expect(nextCheckAt(0, T0, DAY)).toBe(T0);
    expect(nextCheckAt(0, T0 + 1, DAY)).toBe(T0 + DAY);
  });

  it('streams buckets per chunk, covers every installation once, and summarises delays', async () => {
    const p = T0 + 7 * HOUR;
    const ctx = new PlanContext(v('1.0.1', 'automatic', p), [v('1.0.0', 'automatic', T0)], policy);
    const pop = [...generateInstallations({ appId: 'app', count: 20_000, seed: 7, version: '1.0.0' })].map((i) => ({
      ...i,
      approvedUpTo: null,
    }));
    const chunks = [pop.slice(0, 5000), pop.slice(5000, 12_000), pop.slice(12_000)];
    const summary = new PlanSummaryBuilder(p);
    const seen = new Set<string>();
    let buckets = 0;
    for await (const b of planRollout(ctx, chunks, summary)) {
      buckets++;
      expect(b.kind).toBe('upgrade');
      for (const id of b.ids) {
        expect(seen.has(id)).toBe(false);
        seen.add(id);
      }
    }
    expect(seen.size).toBe(20_000);
    const s = summary.summary();
    expect(s.upgrades).toBe(20_000);
    expect(s.delayMaxMs).toBeLessThanOrEqual(28 * HOUR);
    expect(s.delayP50Ms).toBeGreaterThan(8 * HOUR); // spread over the day
    expect(s.delayP50Ms).toBeLessThan(16 * HOUR);
    expect(s.delayP99Ms).toBeGreaterThanOrEqual(s.delayP50Ms);
    expect(s.buckets).toBeLessThanOrEqual(buckets);
    expect(s.buckets).toBeLessThan(400); // ~288 five-minute buckets + a few window-aligned ones
  });

  it('manual: notify at the next check, no upgrade; up-to-date and blocked are skipped', () => {
    const versions = [
      v('1.0.0', 'automatic', T0),
      v('1.1.0', 'manual', T0 + HOUR),
      v('1.1.1', 'automatic', T0 + 2 * HOUR),
    ];
    const manual = new PlanContext(versions[1]!, versions, policy);
    const b = planChunk(manual, [
      { id: 'a', version: '1.0.0', checkOffsetMs: 3 * HOUR, maintenance: null, approvedUpTo: null },
    ]);
    expect(b).toEqual([{ kind: 'notify', at: T0 + 3 * HOUR, ids: ['a'] }]);
    const auto = new PlanContext(versions[2]!, versions, policy);
    const s = new PlanSummaryBuilder(T0 + 2 * HOUR);
    planChunk(
      auto,
      [
        { id: 'a', version: '1.0.0', checkOffsetMs: 0, maintenance: null, approvedUpTo: null },
        { id: 'b', version: '1.1.1', checkOffsetMs: 0, maintenance: null, approvedUpTo: null },
        { id: 'c', version: '1.1.0', checkOffsetMs: 0, maintenance: null, approvedUpTo: null },
      ],
      s,
    );
    expect(s.summary()).toMatchObject({ total: 3, blocked: 1, upToDate: 1, upgrades: 1 });
  });

  it('counts the upgrades a maintenance window deferred (deferrals on the dashboard)', () => {
    const versions = [v('1.0.0', 'automatic', T0), v('1.0.1', 'automatic', T0 + HOUR)];
    const plan = new PlanContext(versions[1]!, versions, policy);
    const s = new PlanSummaryBuilder(T0 + HOUR);
    // Checks at 03:00 UTC; 'busy' is in an ad-hoc window 02:00-05:00 that day.
    const busy = { timeZone: 'UTC', weekly: [], adHoc: [{ start: T0 + 2 * HOUR, end: T0 + 5 * HOUR }] };
    planChunk(
      plan,
      [
        { id: 'free', version: '1.0.0', checkOffsetMs: 3 * HOUR, maintenance: null, approvedUpTo: null },
        { id: 'busy', version: '1.0.0', checkOffsetMs: 3 * HOUR, maintenance: busy, approvedUpTo: null },
      ],
      s,
    );
    expect(s.summary()).toMatchObject({ upgrades: 2, deferred: 1 });
  });
});

describe('simulateRollout', () => {
  const pop = [...generateInstallations({ appId: 'app', count: 2000, seed: 3, version: '1.0.0' })];
  it('Connect automatic versions reach everyone within 28 h of publication; manual ones nobody', () => {
    const res = simulateRollout(
      'connect',
      [
        { version: '1.0.0', bump: 'initial', approval: 'automatic', publishedAt: T0 },
        { version: '1.0.1', bump: 'micro', approval: 'automatic', publishedAt: T0 + 5 * HOUR },
        { version: '1.1.0', bump: 'minor', approval: 'manual', publishedAt: T0 + 50 * HOUR },
        { version: '1.1.1', bump: 'micro', approval: 'automatic', publishedAt: T0 + 60 * HOUR },
      ],
      pop,
    );
    expect(res[1]!.fullDelayMs).toBeLessThanOrEqual(28 * HOUR);
    expect(res[1]!.p50At!).toBeLessThanOrEqual(res[1]!.p99At!);
    expect(res[2]).toMatchObject({ reached: 0, p50At: null, waitingOn: '1.1.0' });
    expect(res[3]).toMatchObject({ reached: 0, waitingOn: '1.1.0' });
  });
  it('Forge automatic within the spread (+ cap for windows); a newer version supersedes', () => {
    const res = simulateRollout(
      'forge',
      [
        { version: '2.0.0', bump: 'initial', approval: 'automatic', publishedAt: T0 },
        { version: '2.1.0', bump: 'minor', approval: 'automatic', publishedAt: T0 + HOUR },
        { version: '2.2.0', bump: 'minor', approval: 'automatic', publishedAt: T0 + HOUR + MINUTE },
      ],
      pop,
    );
    expect(res[1]!.p50At! - res[1]!.publishedAt).toBeLessThanOrEqual(5 * MINUTE);
    expect(res[1]!.fullDelayMs!).toBeLessThanOrEqual(5 * MINUTE + 4 * HOUR);
    expect(res[1]!.p100At!).toBeLessThanOrEqual(res[2]!.p100At!);
  });
  it('approveShare: that share approves each manual version, at its approval; approving a later one covers an earlier one', () => {
    const versions = [
      { version: '1.0.0', bump: 'initial', approval: 'automatic', publishedAt: T0 },
      { version: '1.1.0', bump: 'minor', approval: 'manual', publishedAt: T0 + 5 * HOUR },
      { version: '1.1.1', bump: 'micro', approval: 'automatic', publishedAt: T0 + 10 * HOUR },
      { version: '1.2.0', bump: 'minor', approval: 'manual', publishedAt: T0 + 200 * HOUR },
    ] as const;
    const res = simulateRollout('connect', versions, pop, {}, { approveShare: 0.5, approvalDelayMs: 24 * HOUR });
    const share = (n: number) => n / pop.length;
    expect(share(res[1]!.approved!)).toBeGreaterThan(0.45);
    expect(share(res[1]!.approved!)).toBeLessThan(0.55);
    // 1.1.0 and 1.1.1: approvers of 1.1.0 or of 1.2.0 (≈ 75 %); 1.2.0: its own approvers
    expect(share(res[1]!.reached)).toBeGreaterThan(0.7);
    expect(res[2]!.reached).toBe(res[1]!.reached);
    expect(res[3]!.reached).toBe(res[3]!.approved);
    expect(res[3]).toMatchObject({ waitingOn: '1.2.0', p100At: null });
    // an approval comes after the notice (next check) and within the delay (+ 4 h of window)
    expect(res[1]!.p50At! - versions[1].publishedAt).toBeLessThanOrEqual(24 * HOUR + 24 * HOUR + 4 * HOUR);
    const all = simulateRollout('connect', versions, pop, {}, { approveShare: 1 });
    expect(all.map((r) => r.reached)).toEqual(versions.map(() => pop.length));
  });
});
