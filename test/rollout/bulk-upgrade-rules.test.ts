/** The pure rules of running a bulk upgrade (src/rollout/bulk-upgrade.ts), as table tests. */
import { describe, expect, it } from 'vitest';
import { checkBulkLimits, decideBulkMove, type BulkMoveInput } from '../../src/rollout/bulk-upgrade.js';

const T = Date.parse('2025-03-03T00:00:00Z');
const base: BulkMoveInput = {
  current: '2.1.0',
  approvedUpTo: null,
  fromMajor: 2,
  target: '3.0.0',
  windows: null,
  dueAt: T,
  now: T,
  capMs: 4 * 3_600_000,
};

describe('decideBulkMove', () => {
  it.each<[string, Partial<BulkMoveInput>, unknown]>([
    ['on the source major: moves', {}, { kind: 'move' }],
    ['removed', { current: null }, { kind: 'skip', reason: 'not-installed' }],
    ['left the source major', { current: '3.0.0' }, { kind: 'skip', reason: 'not-on-source-major' }],
    ['on an older major', { current: '1.4.0' }, { kind: 'skip', reason: 'not-on-source-major' }],
    ['approved past the target', { approvedUpTo: '3.1.0' }, { kind: 'skip', reason: 'approved-past-target' }],
    ['approved up to the target', { approvedUpTo: '3.0.0' }, { kind: 'move' }],
    [
      'in a maintenance window: deferred to its end',
      { windows: { timeZone: 'UTC', weekly: [], adHoc: [{ start: T - 1, end: T + 60_000 }] } },
      { kind: 'defer', until: T + 60_000 },
    ],
    [
      'a window past the 4 h cap: deferred 4 h at most',
      { windows: { timeZone: 'UTC', weekly: [], adHoc: [{ start: T - 1, end: T + 9 * 3_600_000 }] } },
      { kind: 'defer', until: T + 4 * 3_600_000 },
    ],
  ])('%s', (_, change, want) => {
    expect(decideBulkMove({ ...base, ...change })).toEqual(want);
  });
});

describe('checkBulkLimits (seeds 000/001)', () => {
  const running = [{ id: 'bu-1', appId: 'a', environment: 'production', account: 'alice' }];
  it.each<[string, { appId: string; environment: string; account: string }, number, string | null]>([
    ['same app and environment', { appId: 'a', environment: 'production', account: 'bob' }, 10, 'environment'],
    ['same account', { appId: 'b', environment: 'production', account: 'alice' }, 10, 'account'],
    ['global limit reached', { appId: 'b', environment: 'production', account: 'bob' }, 1, 'global'],
    ['same app, another environment', { appId: 'a', environment: 'staging', account: 'bob' }, 10, null],
  ])('%s', (_, req, limit, want) => {
    expect(checkBulkLimits(running, req, limit)?.limit ?? null).toBe(want);
  });
  it('the global refusal says to wait about 30 minutes', () => {
    expect(checkBulkLimits(running, { appId: 'b', environment: 'p', account: 'c' }, 1)).toMatchObject({
      retryAfterSeconds: 1800,
      message: expect.stringMatching(/wait around 30 minutes and retry/),
    });
  });
});
