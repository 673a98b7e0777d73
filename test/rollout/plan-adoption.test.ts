/**
 * The adoption planner (src/rollout/plan-adoption.ts; DESIGN.md "Connect to Forge adoption"):
 * eligible installations move inside the window (maintenance deferrals included), stably; the
 * others are notified at publication; a late installation (registered after the plan) moves in
 * what remains of the window from its registration, at once after it.
 */
import { describe, expect, it } from 'vitest';
import { HOUR } from '../../src/lib/clock.js';
import { DEFAULT_ROLLOUT_POLICY, resolveRolloutPolicy } from '../../src/rollout/policy.js';
import { adoptionMoveAt, planAdoptionChunk, planAdoptionStep } from '../../src/rollout/plan-adoption.js';
import type { MaintenanceWindows } from '../../src/rollout/types.js';

const P = Date.parse('2025-03-03T00:00:00Z');
const forge = { version: '2.0.0', publishedAt: P };
const policy = DEFAULT_ROLLOUT_POLICY;
const always: MaintenanceWindows = { timeZone: 'UTC', weekly: [], adHoc: [{ start: P - HOUR, end: P + 200 * HOUR }] };

describe('planAdoptionStep', () => {
  it.each([
    ['eligible, no window', true, null, 'move'],
    ['eligible, in a window (deferred at most the cap)', true, always, 'move'],
    ['not eligible', false, null, 'notify'],
    ['not eligible, in a window (notices are not deferred)', false, always, 'notify'],
  ] as const)('%s', (_, eligible, maintenance, kind) => {
    const s = planAdoptionStep({ id: 'i1', connectVersion: '1.0.0', maintenance }, eligible, forge, policy);
    expect(s.kind).toBe(kind);
    if (s.kind === 'notify') expect(s.at).toBe(P);
    else {
      expect(s.at).toBeGreaterThanOrEqual(P); // the bucket start may precede the slot
      expect(s.at - s.dueAt).toBeLessThanOrEqual(policy.maintenanceCapMs);
      expect(s.at).toBeLessThan(P + policy.adoptionWindowMs);
    }
  });

  it('defaults to a 120 h window; configurable', () => {
    expect(policy.adoptionWindowMs).toBe(120 * HOUR);
    expect(resolveRolloutPolicy({ adoptionWindowMs: 10 * HOUR }).adoptionWindowMs).toBe(10 * HOUR);
    expect(() => resolveRolloutPolicy({ adoptionWindowMs: -1 })).toThrow(/adoptionWindowMs/);
  });
});

describe('adoptionMoveAt', () => {
  it('spreads thousands of installations over the window, stably, every move inside it', () => {
    const ats: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const inst = { id: `inst-${i}`, maintenance: i % 3 === 0 ? always : null };
      const r = adoptionMoveAt(inst, forge, policy);
      expect(adoptionMoveAt(inst, forge, policy)).toEqual(r);
      expect(r.at).toBeGreaterThanOrEqual(P);
      expect(r.at).toBeLessThan(P + policy.adoptionWindowMs);
      expect((r.at - P) % policy.adoptionBucketMs === 0 || r.at === r.dueAt + policy.maintenanceCapMs).toBe(true);
      ats.push(r.at);
    }
    // Progressive: spread over the window, not all at once.
    expect(Math.min(...ats)).toBeLessThan(P + 10 * HOUR);
    expect(Math.max(...ats)).toBeGreaterThan(P + 100 * HOUR);
  });

  it('a window no longer than the cap moves everyone at publication, deferred at most the cap', () => {
    const small = { ...policy, adoptionWindowMs: policy.maintenanceCapMs };
    expect(adoptionMoveAt({ id: 'a', maintenance: null }, forge, small)).toEqual({ at: P, dueAt: P });
    expect(adoptionMoveAt({ id: 'a', maintenance: always }, forge, small).at).toBe(P + policy.maintenanceCapMs);
  });
});

describe('late installations (registered after the adoption plan)', () => {
  it("known before publication: the plan's own step", () => {
    for (let i = 0; i < 200; i++) {
      const inst = { id: `inst-${i}`, connectVersion: '1.0.0', maintenance: i % 2 ? always : null };
      expect(planAdoptionStep(inst, true, forge, policy, P - HOUR)).toEqual(
        planAdoptionStep(inst, true, forge, policy),
      );
    }
  });

  it('moves in the rest of the window from registration (maintenance ≤ cap); notified at registration', () => {
    const known = P + 100 * HOUR + 17 * 60_000;
    const ats: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const inst = { id: `late-${i}`, connectVersion: '1.0.0', maintenance: i % 3 === 0 ? always : null };
      const s = planAdoptionStep(inst, true, forge, policy, known);
      if (s.kind !== 'move') throw new Error('expected a move');
      expect(s.dueAt).toBeGreaterThanOrEqual(known);
      expect(s.at).toBeGreaterThanOrEqual(known);
      expect(s.at - s.dueAt).toBeLessThanOrEqual(policy.maintenanceCapMs);
      expect(s.at).toBeLessThan(P + policy.adoptionWindowMs);
      ats.push(s.at);
    }
    expect(Math.max(...ats) - Math.min(...ats)).toBeGreaterThan(10 * HOUR); // still spread
    const inst = { id: 'late-x', connectVersion: '1.0.0', maintenance: always };
    expect(planAdoptionStep(inst, false, forge, policy, known)).toEqual({ kind: 'notify', at: known });
  });

  it('registered after the window: due at once, deferred at most the cap', () => {
    const known = P + 130 * HOUR + 1;
    const free = adoptionMoveAt({ id: 'a', maintenance: null }, forge, policy, known);
    expect(free.dueAt).toBe(known);
    expect(free.at).toBeGreaterThanOrEqual(known);
    expect(free.at).toBeLessThanOrEqual(known + policy.adoptionBucketMs);
    const deferred = adoptionMoveAt({ id: 'a', maintenance: always }, forge, policy, known);
    expect(deferred.at).toBeGreaterThanOrEqual(known);
    expect(deferred.at).toBeLessThanOrEqual(known + policy.maintenanceCapMs);
  });
});

describe('planAdoptionChunk', () => {
  it('judges each installation by its Connect version and buckets by time and kind', () => {
    const inputs = ['a', 'b', 'c', 'd'].map((id, k) => ({
      id,
      connectVersion: k % 2 ? '1.1.0' : '1.0.0',
      maintenance: null,
    }));
    const buckets = planAdoptionChunk(inputs, (v) => v === '1.0.0', forge, policy);
    const notify = buckets.filter((b) => b.kind === 'notify');
    expect(notify).toEqual([{ kind: 'notify', at: P, ids: ['b', 'd'] }]);
    expect(
      buckets
        .filter((b) => b.kind === 'move')
        .flatMap((b) => b.ids)
        .sort(),
    ).toEqual(['a', 'c']);
    expect(buckets.map((b) => b.at)).toEqual([...buckets.map((b) => b.at)].sort((x, y) => x - y));
  });
});
