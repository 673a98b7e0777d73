/**
 * The demo's mode: a ScaledClock (simulated time runs 36,000× faster) and `timeScale` so that
 * BullMQ's real delays follow it. A Connect rollout of 28 simulated hours completes in about three
 * seconds, and no installation is upgraded before its planned time.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { DAY, HOUR, ScaledClock } from '../../src/lib/clock.js';
import { PLAN_ROLLOUT_JOB_NAME, planRolloutJobId } from '../../src/jobs/queues.js';
import { generatePopulation } from '../../src/app/rollout/installations.js';
import { showRollout } from '../../src/app/rollout/rollouts.js';
import { ROLLOUT_T0, createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';

const SPEED = 36_000; // 10 simulated hours per real second
let rw: RolloutHarness<ScaledClock>;
let clock: ScaledClock;

beforeEach(async () => {
  rw = await createRolloutHarness({
    clock: new ScaledClock(ROLLOUT_T0, SPEED),
    settings: { timeScale: SPEED, batchSize: 500 },
  });
  clock = rw.clock;
});
afterEach(() => rw.close());

it('a Connect rollout on a fast clock: all upgraded, none early, within 28 h of simulated time', async () => {
  rw.versions.add({
    appId: 's',
    kind: 'connect',
    version: '1.0.0',
    bump: 'initial',
    approval: 'automatic',
    detectedAt: clock.now() - DAY,
  });
  await generatePopulation(rw.ctx, { appId: 's', count: 2000, seed: 6, version: '1.0.0' });
  const P = clock.now();
  rw.versions.add({
    appId: 's',
    kind: 'connect',
    version: '1.0.1',
    bump: 'micro',
    approval: 'automatic',
    detectedAt: P,
  });
  const completed = rw.ctx.events.next('rollout:completed', (e) => e.appId === 's' && e.version === '1.0.1', 20_000);
  const job = { v: 1, appId: 's', version: '1.0.1' } as const;
  await rw.ctx.queues.rollout.add(PLAN_ROLLOUT_JOB_NAME, job, { jobId: planRolloutJobId(job) });
  await completed;
  expect((await showRollout(rw.ctx, 's', '1.0.1')).complete).toBe(true);
  const planned = new Map<string, number>();
  for (const b of (await showRollout(rw.ctx, 's', '1.0.1')).buckets) {
    for (const id of await rw.ctx.rollouts.bucketRange('s', '1.0.1', b.kind, b.at, 0, -1)) planned.set(id, b.at);
  }
  expect((await showRollout(rw.ctx, 's', '1.0.1')).summary!.delayMaxMs).toBeLessThanOrEqual(28 * HOUR);
  let n = 0;
  for await (const [id, hist] of rw.ctx.installs.scanHistory('s')) {
    const up = hist.filter((e) => e.kind === 'upgraded');
    expect(up).toHaveLength(1);
    expect(up[0]!.at).toBeGreaterThanOrEqual(planned.get(id)!); // never before its planned time
    // late by at most the real scheduling latency × speed (≤ 1.2 s real here: a shared machine
    // that runs two test files at a time)
    expect(up[0]!.at - planned.get(id)!).toBeLessThanOrEqual(12 * HOUR);
    n++;
  }
  expect(n).toBe(2000);
});
