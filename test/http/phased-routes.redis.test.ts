/**
 * Phased releases and the error budget over HTTP (inject, real Redis, no workers): every write
 * (an app's phased release, a rollout's phase, advance, complete, a failure report) is an
 * operator's: 401 without credentials, 403 to a viewer; each success is audited under the
 * token's name; the rollout API shows the phase, its cohort size and the next step.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, HOUR } from '../../src/lib/clock.js';
import { generatePopulation } from '../../src/app/rollout/installations.js';
import { planVersionRollout } from '../../src/app/rollout/plan-version-rollout.js';
import type { AuditStore } from '../../src/store/audit-store.js';
import { ROLLOUT_T0 as T0, createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';
import { OPERATOR, asOperator, asViewer, buildTestApp } from '../helpers/http.js';

const APP = 'http-phased';

describe('phased release and error budget routes (inject, real Redis)', () => {
  let h: RolloutHarness;
  let app: FastifyInstance;
  let audit: AuditStore;

  beforeEach(async () => {
    h = await createRolloutHarness({ workers: false });
    await h.ctx.apps.addConnectApp({ id: APP, descriptorUrl: 'https://vendor.example.com/d.json', now: T0 - DAY });
    h.versions.add({
      appId: APP,
      kind: 'connect',
      version: '1.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    await generatePopulation(h.ctx, { appId: APP, count: 200, seed: 3, version: '1.0.0' });
    ({ app, audit } = await buildTestApp(h.ctx));
  });
  afterEach(async () => {
    await app.close();
    await h.close();
  });

  const writes = () => [
    { method: 'PUT' as const, url: `/v1/apps/${APP}/phased-release`, payload: { preset: 'apple' } },
    { method: 'DELETE' as const, url: `/v1/apps/${APP}/phased-release` },
    { method: 'PUT' as const, url: `/v1/rollouts/${APP}/1.0.1/phased-release`, payload: { preset: 'forge' } },
    { method: 'POST' as const, url: `/v1/rollouts/${APP}/1.0.1/advance` },
    { method: 'POST' as const, url: `/v1/rollouts/${APP}/1.0.1/complete` },
    { method: 'POST' as const, url: `/v1/installations/x/failures`, payload: { reason: 'boom' } },
  ];

  it('refuses every write without credentials (401) and to a viewer (403)', async () => {
    for (const w of writes()) {
      const anon = await app.inject(w);
      expect(anon.statusCode, `${w.method} ${w.url}`).toBe(401);
      const viewer = await app.inject({ ...w, headers: asViewer });
      expect(viewer.statusCode, `${w.method} ${w.url}`).toBe(403);
      expect(viewer.json().error.code).toBe('forbidden');
    }
  });

  it('sets the app phased release, plans phase 1, advances, reports failures; shows phase, cohort and next step', async () => {
    const bad = await app.inject({
      method: 'PUT',
      url: `/v1/apps/${APP}/phased-release`,
      payload: { percents: [10, 5], intervalMs: HOUR },
      headers: asOperator,
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/percentages must increase.*the last must be 100/);
    const set = await app.inject({
      method: 'PUT',
      url: `/v1/apps/${APP}/phased-release`,
      payload: { percents: [25, 50, 100], intervalMs: DAY },
      headers: asOperator,
    });
    expect(set.json()).toEqual({ appId: APP, phasedRelease: { percents: [25, 50, 100], intervalMs: DAY } });

    h.clock.set(T0 + HOUR);
    h.versions.add({
      appId: APP,
      kind: 'connect',
      version: '1.0.1',
      bump: 'micro',
      approval: 'automatic',
      detectedAt: T0 + HOUR,
    });
    await planVersionRollout(h.ctx, { v: 1, appId: APP, version: '1.0.1' });
    const shown = await app.inject({ url: `/v1/rollouts/${APP}/1.0.1`, headers: asViewer });
    expect(shown.statusCode).toBe(200);
    const phased = shown.json().phased;
    expect(phased).toMatchObject({ phase: 1, phases: 3, percent: 25, nextStepAt: T0 + HOUR + DAY });
    expect(phased.cohortSize).toBeGreaterThan(20);
    expect(phased.cohortSize).toBeLessThan(80);

    const adv = await app.inject({
      method: 'POST',
      url: `/v1/rollouts/${APP}/1.0.1/advance`,
      payload: { phase: 2 },
      headers: asOperator,
    });
    expect(adv.statusCode, adv.body).toBe(200);
    expect(adv.json().phased).toMatchObject({ phase: 2, percent: 50, startedAt: T0 + HOUR });
    const again = await app.inject({
      method: 'POST',
      url: `/v1/rollouts/${APP}/1.0.1/advance`,
      payload: { phase: 2 },
      headers: asOperator,
    });
    expect(again.json().phased).toMatchObject({ phase: 2 });
    const phaseJobs = await h.ctx.queues.rollout.getJobs(['delayed', 'waiting']);
    // The scheduled step to the second phase (index 1) and the operator's, now: one more changes nothing.
    const steps = phaseJobs.filter((j) => j.name === 'phase-step').map((j) => [j.data.phase, j.data.at]);
    expect(steps.sort()).toEqual([
      [1, T0 + HOUR],
      [1, T0 + HOUR + DAY],
    ]);

    const [first] = await h.ctx.installs.list(APP, 0, 1);
    const failed = await app.inject({
      method: 'POST',
      url: `/v1/installations/${first!.id}/failures`,
      payload: { version: '1.0.1', reason: 'health check 500' },
      headers: asOperator,
    });
    expect(failed.statusCode, failed.body).toBe(200);
    expect(failed.json()).toMatchObject({
      appId: APP,
      version: '1.0.1',
      recorded: true,
      failures: 1,
      budget: 5,
      paused: false,
    });
    const unknown = await app.inject({
      method: 'POST',
      url: `/v1/installations/nobody/failures`,
      payload: {},
      headers: asOperator,
    });
    expect(unknown.statusCode).toBe(404);

    const entries = await audit.list({ appId: APP, limit: 10 });
    expect(entries.map((e) => [e.actor, e.action, e.outcome])).toEqual([
      [OPERATOR.name, 'rollout.report-failure', 'ok'],
      [OPERATOR.name, 'rollout.advance', 'ok'],
      [OPERATOR.name, 'rollout.advance', 'ok'],
      [OPERATOR.name, 'app.phased-release', 'ok'],
      [OPERATOR.name, 'app.phased-release', 'input-invalid'],
    ]);
    expect(entries[0]!.target).toMatchObject({ installation: first!.id, version: '1.0.1', reason: 'health check 500' });
  });
});
