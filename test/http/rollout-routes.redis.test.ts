import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { DAY, HOUR, ManualClock } from '../../src/lib/clock.js';
import { installErrorHandler } from '../../src/http/error-handler.js';
import { installSchemaCompilers } from '../../src/http/schemas.js';
import { registerRolloutRoutes } from '../../src/http/routes/rollout-routes.js';
import type { Runtime as RolloutContext } from '../../src/runtime.js';
import { planVersionRollout } from '../../src/app/rollout/plan-version-rollout.js';
import { ROLLOUT_T0 as T0, createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';
import { MemoryVersions } from '../rollout/helpers.js';

describe('rollout HTTP API (inject, real Redis)', () => {
  let rw: RolloutHarness;
  let app: FastifyInstance;
  let ctx: RolloutContext;
  let registry: Registry;
  const versions = new MemoryVersions();
  versions.add({
    appId: 'h',
    kind: 'connect',
    version: '1.0.0',
    bump: 'initial',
    approval: 'automatic',
    detectedAt: T0 - DAY,
  });
  versions.add({ appId: 'h', kind: 'connect', version: '1.1.0', bump: 'minor', approval: 'manual', detectedAt: T0 });

  beforeEach(async () => {
    // No workers: the routes are tested on what they store and enqueue.
    rw = await createRolloutHarness({ clock: new ManualClock(T0 + HOUR), versions, workers: false });
    ctx = rw.ctx;
    registry = ctx.metrics.registry;
    app = Fastify();
    installErrorHandler(app);
    installSchemaCompilers(app);
    await registerRolloutRoutes(app, ctx);
  });
  afterEach(async () => {
    await app.close();
    await rw.close();
  });

  it('registers, validates (all or nothing), shows, lists and reports the distribution', async () => {
    const bad = await app.inject({
      method: 'POST',
      url: '/v1/installations',
      payload: [
        { id: 'i1', appId: 'h', site: 's1', version: '1.0.0' },
        { id: 'i2', appId: 'h', site: 's2', version: 'one', maintenance: { timeZone: 'Mars/Olympus', weekly: [] } },
      ],
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('input-invalid');
    expect(bad.json().error.message).toMatch(/body\[1\].*version.*timeZone/s);
    expect((await app.inject({ url: '/v1/installations/i1' })).statusCode).toBe(404);

    const ok = await app.inject({
      method: 'POST',
      url: '/v1/installations',
      payload: [
        { id: 'i1', appId: 'h', site: 's1', products: ['jira'], version: '1.0.0', checkTime: '02:00' },
        {
          id: 'i2',
          appId: 'h',
          site: 's2',
          version: '1.0.0',
          maintenance: { timeZone: 'Europe/Berlin', weekly: [{ day: 1, start: '00:00', minutes: 240 }] },
        },
      ],
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ created: 2, updated: 0 });
    const one = (await app.inject({ url: '/v1/installations/i1' })).json();
    expect(one).toMatchObject({
      id: 'i1',
      appId: 'h',
      version: '1.0.0',
      checkOffsetMs: 2 * HOUR,
      history: [{ kind: 'registered', version: '1.0.0' }],
    });
    expect((await app.inject({ url: '/v1/apps/h/installations?limit=1' })).json()).toMatchObject({
      total: 2,
      installations: [{ id: 'i1' }],
    });
    expect((await app.inject({ url: '/v1/apps/h/installations?limit=0' })).statusCode).toBe(400);
    expect((await app.inject({ url: '/v1/apps/h/distribution' })).json()).toEqual({
      appId: 'h',
      total: 2,
      versions: [{ version: '1.0.0', count: 2, percent: 100 }],
    });
    // An app with neither a record nor installations is not found, as everywhere else (not an empty
    // distribution).
    const unknown = await app.inject({ url: '/v1/apps/no-such-app/distribution' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 'app-not-found' } });
  });

  it('refuses installations of unknown apps, unknown versions and unpublished versions: all listed, none stored', async () => {
    // 'u' has 1.0.0 published and 2.0.0 detected a day after the clock's now (not published yet).
    versions.add({
      appId: 'u',
      kind: 'connect',
      version: '1.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0,
    });
    versions.add({
      appId: 'u',
      kind: 'connect',
      version: '2.0.0',
      bump: 'major',
      approval: 'manual',
      detectedAt: T0 + DAY,
    });
    const res = await app.inject({
      method: 'POST',
      url: '/v1/installations',
      payload: [
        { id: 'ok1', appId: 'u', site: 's1', version: '1.0.0' },
        { id: 'x1', appId: 'ghost', site: 's2', version: '1.0.0' },
        { id: 'x2', appId: 'u', site: 's3', version: '99.0.0' },
        { id: 'x3', appId: 'u', site: 's4', version: '2.0.0' },
        { id: 'x4', appId: 'u', site: 's5', version: 'bad' },
      ],
    });
    expect(res.statusCode).toBe(400);
    const error = res.json().error;
    expect(error.code).toBe('input-invalid');
    expect([...error.details.problems].sort()).toEqual([
      expect.stringMatching(/^body\[1\]: app 'ghost' has no stored version/),
      expect.stringMatching(/^body\[2\]: app 'u' has no version 99\.0\.0 \(stored: 1\.0\.0, 2\.0\.0\)/),
      expect.stringMatching(/^body\[3\]: version 2\.0\.0 of app 'u' is not published until /),
      expect.stringMatching(/^body\[4\]: version/),
    ]);
    expect((await app.inject({ url: '/v1/installations/ok1' })).statusCode).toBe(404);
    expect(await ctx.installs.count('ghost')).toBe(0);
    expect(await ctx.installs.count('u')).toBe(0);
  });

  it('rollouts: list, show, pause / resume / halt; approvals', async () => {
    await app.inject({
      method: 'POST',
      url: '/v1/installations',
      payload: { id: 'i1', appId: 'h', site: 's1', version: '1.0.0' },
    });
    await planVersionRollout(ctx, { v: 1, appId: 'h', version: '1.1.0' });
    const list = (await app.inject({ url: '/v1/rollouts?app=h' })).json();
    expect(list.rollouts).toMatchObject([{ id: 'h@1.1.0', status: 'awaiting-approval', progressPercent: 0 }]);
    expect((await app.inject({ url: '/v1/rollouts/h/1.1.0' })).json()).toMatchObject({
      summary: { notifies: 1 },
      buckets: [{ kind: 'notify', size: 1 }],
    });
    expect((await app.inject({ url: '/v1/rollouts/h/9.9.9' })).statusCode).toBe(404);
    const metrics = await registry.metrics();
    expect(metrics).toContain('mpu_rollout_progress_percent{app="h",version="1.1.0",status="awaiting-approval"} 0');
    expect(metrics).toContain('mpu_installations{app="h",version="1.0.0"} 1');
    expect((await app.inject({ method: 'POST', url: '/v1/rollouts/h/1.1.0/pause' })).json().status).toBe('paused');
    expect((await app.inject({ method: 'POST', url: '/v1/rollouts/h/1.1.0/resume' })).json().status).toBe(
      'awaiting-approval',
    );
    expect((await app.inject({ method: 'POST', url: '/v1/rollouts/h/1.1.0/explode' })).statusCode).toBe(400);
    const appr = await app.inject({
      method: 'POST',
      url: '/v1/installations/i1/approve',
      payload: { version: '1.1.0' },
    });
    expect(appr.statusCode).toBe(202);
    expect(appr.json()).toMatchObject({
      installationId: 'i1',
      approvedUpTo: '1.1.0',
      approvedVersions: ['1.1.0'],
      target: '1.1.0',
      upgradeAt: T0 + HOUR,
    });
    expect((await app.inject({ method: 'POST', url: '/v1/installations/nope/approve' })).statusCode).toBe(404);
    expect(
      (await app.inject({ method: 'POST', url: '/v1/installations/i1/approve', payload: { version: '7.0.0' } }))
        .statusCode,
    ).toBe(404);

    expect((await app.inject({ method: 'POST', url: '/v1/rollouts/h/1.1.0/halt' })).json().status).toBe('halted');
    expect((await app.inject({ method: 'POST', url: '/v1/rollouts/h/1.1.0/resume' })).statusCode).toBe(409);
    const late = await app.inject({
      method: 'POST',
      url: '/v1/installations/i1/approve',
      payload: { version: '1.1.0' },
    });
    expect(late.statusCode).toBe(409);
    expect(late.json().error.message).toMatch(/halted/);
  });
});
