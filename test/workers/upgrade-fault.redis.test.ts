/**
 * Fault: a worker process SIGKILLed in the middle of a rollout of 100,000 installations, then a
 * new one started: every installation is upgraded exactly once (counted from history events).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Runtime as RolloutContext } from '../../src/runtime.js';
import { generatePopulation } from '../../src/app/rollout/installations.js';
import { PLAN_ROLLOUT_JOB_NAME, planRolloutJobId } from '../../src/jobs/queues.js';
import { systemClock } from '../../src/lib/clock.js';
import { createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';
import { TEST_REDIS_ENV } from '../helpers/redis.js';
import { WorkerChildren } from './fixtures/worker-children.js';

const N = 100_000;
let rw: RolloutHarness<typeof systemClock>;
let ctx: RolloutContext;
const children = new WorkerChildren();

function startChild(versions: unknown) {
  return children.start({
    MPU_TEST_PREFIX: rw.prefix,
    ...TEST_REDIS_ENV,
    MPU_TEST_VERSIONS: JSON.stringify(versions),
  });
}

async function upgraded(): Promise<number> {
  return Number((await rw.connection.hget(ctx.keys.versionDistribution('fault'), '2.1.0')) ?? 0);
}

beforeAll(async () => {
  // No workers here: the children run them.
  rw = await createRolloutHarness({ clock: systemClock, workers: false });
  ctx = rw.ctx;
  await generatePopulation(ctx, { appId: 'fault', count: N, seed: 9, version: '2.0.0', maintenanceWindows: false });
});

afterAll(async () => {
  await children.close();
  await rw.close();
});

it('SIGKILL mid-rollout of 100,000, restart: every installation upgraded exactly once', async () => {
  const now = Date.now();
  const versions = [
    {
      appId: 'fault',
      kind: 'forge',
      version: '2.0.0',
      bump: 'initial',
      approval: 'automatic',
      reasons: [],
      warnings: [],
      descriptorHash: 'sha256:0',
      source: 'cli',
      detectedAt: now - 86_400_000,
    },
    {
      appId: 'fault',
      kind: 'forge',
      version: '2.1.0',
      bump: 'minor',
      approval: 'automatic',
      reasons: [],
      warnings: [],
      descriptorHash: 'sha256:0',
      source: 'cli',
      detectedAt: now,
    },
  ];
  const first = await startChild(versions);
  const isFault = (e: { appId: string; version: string }) => e.appId === 'fault' && e.version === '2.1.0';
  const midway = children.events.next('rollout:batch:applied', (e) => isFault(e) && e.progressPercent >= 15, 20_000);
  await ctx.queues.rollout.add(
    PLAN_ROLLOUT_JOB_NAME,
    { v: 1, appId: 'fault', version: '2.1.0' },
    { jobId: planRolloutJobId({ v: 1, appId: 'fault', version: '2.1.0' }) },
  );
  await midway;
  await children.kill(first);
  const atKill = await upgraded();
  expect(atKill).toBeLessThan(N); // really mid-rollout
  // Proving that nothing happens takes time passing: no event marks an absence.
  await new Promise((r) => setTimeout(r, 300));
  expect(await upgraded()).toBe(atKill); // and really dead: nothing moves without a worker

  const completed = children.events.next('rollout:completed', isFault, 25_000);
  const second = await startChild(versions);
  await completed;
  second.removeAllListeners('exit');

  let installations = 0;
  let events = 0;
  const counts = new Map<number, number>();
  for await (const [, history] of ctx.installs.scanHistory('fault')) {
    installations++;
    const ups = history.filter((e) => e.kind === 'upgraded' && e.to === '2.1.0').length;
    events += ups;
    counts.set(ups, (counts.get(ups) ?? 0) + 1);
  }
  expect(installations).toBe(N);
  expect(Object.fromEntries(counts)).toEqual({ 1: N });
  expect(events).toBe(N);
  expect(await ctx.installs.distribution('fault')).toEqual({ '2.1.0': N });
}, 60_000);
