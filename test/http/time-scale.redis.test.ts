/**
 * One time scale per process: on a scaled clock (the demo's, `timeScale` 3600: one simulated
 * hour per real second), an upgrade deferred by an admin's approval over HTTP and the upgrade
 * batches of a rollout plan are both delayed in BullMQ by (due time − now) / timeScale, because
 * both go through the context's one job dispatcher.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { planVersionRollout } from '../../src/app/rollout/plan-version-rollout.js';
import type { Runtime } from '../../src/runtime.js';
import { asOperator, buildTestApp } from '../helpers/http.js';
import { UPGRADE_BATCH_JOB_NAME, type UpgradeBatchJob } from '../../src/jobs/queues.js';
import { DAY, HOUR } from '../../src/lib/clock.js';
import { ROLLOUT_T0 as T0, createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';
import type { MemoryVersions } from '../rollout/helpers.js';

const SCALE = 3600;
let rw: RolloutHarness;
let ctx: Runtime;
let app: FastifyInstance;
let versions: MemoryVersions;

beforeEach(async () => {
  // No workers: the test reads the delays of the jobs enqueued.
  rw = await createRolloutHarness({ workers: false, settings: { timeScale: SCALE } });
  ({ ctx, versions } = rw);
  ({ app } = await buildTestApp(ctx));
});
afterEach(async () => {
  await app.close();
  await rw.close();
});

async function upgradeJobs(): Promise<{ data: UpgradeBatchJob; delay: number }[]> {
  const jobs = await ctx.queues.rollout.getJobs(['delayed', 'waiting']);
  return jobs
    .filter((j) => j.name === UPGRADE_BATCH_JOB_NAME)
    .map((j) => ({ data: j.data as UpgradeBatchJob, delay: j.opts.delay ?? 0 }));
}

it('an approval over HTTP and a planned rollout delay their upgrades on the same time scale', async () => {
  versions.add({
    appId: 'ts',
    kind: 'connect',
    version: '1.0.0',
    bump: 'initial',
    approval: 'automatic',
    detectedAt: T0 - DAY,
  });
  versions.add({
    appId: 'ts',
    kind: 'connect',
    version: '1.1.0',
    bump: 'minor',
    approval: 'manual',
    detectedAt: T0 - HOUR,
  });
  // In a maintenance window until T0 + 2 h: the approved upgrade is deferred to its end.
  const maintenance = { timeZone: 'UTC', weekly: [], adHoc: [{ start: T0 - HOUR, end: T0 + 2 * HOUR }] };
  const reg = await app.inject({
    method: 'POST',
    headers: asOperator,
    url: '/v1/installations',
    payload: { id: 'i1', appId: 'ts', site: 's1', version: '1.0.0', maintenance },
  });
  expect(reg.statusCode).toBe(200);

  const approved = await app.inject({
    method: 'POST',
    headers: asOperator,
    url: '/v1/installations/i1/approve',
    payload: { version: '1.1.0' },
  });
  expect(approved.statusCode).toBe(202);
  expect(approved.json()).toMatchObject({ target: '1.1.0', upgradeAt: T0 + 2 * HOUR });
  const [approval] = (await upgradeJobs()).filter((j) => j.data.source.kind === 'ids');
  expect(approval!.delay).toBe((2 * HOUR) / SCALE); // 2 s real, not 2 h

  // A later automatic version's plan: its batches are due at the installations' next checks.
  versions.add({
    appId: 'ts',
    kind: 'connect',
    version: '1.1.1',
    bump: 'micro',
    approval: 'automatic',
    detectedAt: T0,
  });
  await registerMore(50);
  expect(await planVersionRollout(ctx, { v: 1, appId: 'ts', version: '1.1.1' })).toMatchObject({ status: 'scheduled' });
  const planned = (await upgradeJobs()).filter((j) => j.data.source.kind === 'bucket');
  expect(planned.length).toBeGreaterThan(0);
  for (const j of planned) expect(j.delay).toBe(Math.max(0, Math.ceil((j.data.dueAt - T0) / SCALE)));
  expect(Math.max(...planned.map((j) => j.delay))).toBeLessThanOrEqual((33 * HOUR) / SCALE);
});

async function registerMore(n: number): Promise<void> {
  const payload = Array.from({ length: n }, (_, i) => ({ id: `m${i}`, appId: 'ts', site: `m${i}`, version: '1.0.0' }));
  expect(
    (await app.inject({ method: 'POST', url: '/v1/installations', headers: asOperator, payload })).statusCode,
  ).toBe(200);
}
