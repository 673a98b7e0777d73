/**
 * The bulk upgrade routes over HTTP (inject, real Redis): the two POSTs are an operator's (401
 * without credentials, 403 to a viewer, audited as refused), the GET a viewer's; a start and a
 * cancel leave one audit entry each naming the token as actor, whose name is also the bulk
 * upgrade's developer account; the global limit answers 409 with `Retry-After: 1800`.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generatePopulation } from '../../src/app/rollout/installations.js';
import type { AuditStore } from '../../src/store/audit-store.js';
import { createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';
import { OPERATOR, VIEWER, asOperator, asViewer, buildTestApp } from '../helpers/http.js';
import { baseForge, forge } from '../versioning/helpers.js';

const APP = 'ari:cloud:ecosystem::app/11111111-2222-3333-4444-555555555555';
const OTHER = 'ari:cloud:ecosystem::app/22222222-2222-3333-4444-555555555555';
const BOB = { name: 'bob', token: 'second-operator-token-0123456789' };
const asBob = { authorization: `Bearer ${BOB.token}` };
const enc = encodeURIComponent;
const body = { environment: 'production', from: 2, to: 3 };

describe('bulk upgrade routes (inject, real Redis)', () => {
  let h: RolloutHarness;
  let app: FastifyInstance;
  let audit: AuditStore;

  beforeEach(async () => {
    // A global limit of one: a second bulk upgrade, of another app and account, meets it.
    h = await createRolloutHarness({ workers: false, settings: { bulkUpgradeLimit: 1 } });
    for (const appId of [APP, OTHER]) {
      await h.ctx.apps.addForgeApp({ ari: appId, now: h.clock.now() });
      for (const version of ['2.0.0', '3.0.0']) {
        const hash = await h.ctx.descriptors.saveDescriptor(appId, forge(baseForge));
        h.versions.add({
          appId,
          kind: 'forge',
          version,
          bump: 'major',
          approval: 'manual',
          descriptorHash: hash,
          detectedAt: h.clock.now(),
        });
      }
      await generatePopulation(h.ctx, { appId, count: 5, seed: 1, version: '2.0.0', maintenanceWindows: false });
    }
    ({ app, audit } = await buildTestApp(h.ctx, { operatorTokens: [OPERATOR, BOB] }));
  });
  afterEach(async () => {
    await app.close();
    await h.close();
  });

  const start = (headers: Record<string, string>, appId = APP) =>
    app.inject({ method: 'POST', url: `/v1/apps/${enc(appId)}/bulk-upgrades`, payload: body, headers });

  it('POSTs: 401 without or with a wrong token, 403 to a viewer (audited); GET: 401 anonymous, 200 viewer', async () => {
    const started = await start(asOperator);
    expect(started.statusCode, started.body).toBe(201);
    const id = started.json().id as string;
    const writes = [
      { url: `/v1/apps/${enc(APP)}/bulk-upgrades`, payload: body, action: 'bulk-upgrade.start' },
      { url: `/v1/bulk-upgrades/${id}/cancel`, action: 'bulk-upgrade.cancel' },
    ];
    for (const w of writes) {
      const anon = await app.inject({ method: 'POST', url: w.url, payload: w.payload });
      expect(anon.statusCode).toBe(401);
      expect(anon.headers['www-authenticate']).toBe('Bearer realm="mpu"');
      const wrong = await app.inject({
        method: 'POST',
        url: w.url,
        payload: w.payload,
        headers: { authorization: `Bearer ${OPERATOR.token}x` },
      });
      expect(wrong.statusCode).toBe(401);
      const viewer = await app.inject({ method: 'POST', url: w.url, payload: w.payload, headers: asViewer });
      expect(viewer.statusCode).toBe(403);
      expect(viewer.json().error.code).toBe('forbidden');
      expect((await audit.list({ limit: 1 }))[0]).toMatchObject({
        actor: VIEWER.name,
        action: w.action,
        outcome: 'forbidden',
      });
    }
    const list = await app.inject({ url: `/v1/apps/${enc(APP)}/bulk-upgrades` });
    expect(list.statusCode).toBe(401);
    // Nothing changed: still running, no second one.
    const seen = await app.inject({ url: `/v1/apps/${enc(APP)}/bulk-upgrades`, headers: asViewer });
    expect(seen.statusCode).toBe(200);
    expect(seen.json().bulkUpgrades).toMatchObject([{ id, status: 'running', account: OPERATOR.name }]);
  });

  it('start and cancel are audited with the token’s name as actor and account; the global limit says Retry-After: 1800', async () => {
    const started = await start(asOperator);
    expect(started.statusCode, started.body).toBe(201);
    const b = started.json();
    expect(b).toMatchObject({ appId: APP, account: OPERATOR.name, status: 'running', from: '2.0.0', to: '3.0.0' });

    // Another app, another operator (so neither the environment nor the account limit): global.
    const full = await start(asBob, OTHER);
    expect(full.statusCode).toBe(409);
    expect(full.headers['retry-after']).toBe('1800');
    expect(full.json().error).toMatchObject({
      code: 'bulk-upgrade-refused',
      message: expect.stringMatching(/wait around 30 minutes and retry/),
      details: { limit: 'global', retryAfterSeconds: 1800 },
    });
    // Other refusals carry no Retry-After: waiting is not what they ask for.
    const same = await start(asBob);
    expect(same.statusCode).toBe(409);
    expect(same.json().error.details).toMatchObject({ limit: 'environment' });
    expect(same.headers['retry-after']).toBeUndefined();

    const cancelled = await app.inject({
      method: 'POST',
      url: `/v1/bulk-upgrades/${b.id}/cancel`,
      headers: asOperator,
    });
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    expect(cancelled.json()).toMatchObject({ id: b.id, status: 'cancelled', account: OPERATOR.name });
    // The place is free again: bob's start on the other app goes through, in his name.
    const bobs = await start(asBob, OTHER);
    expect(bobs.statusCode, bobs.body).toBe(201);
    expect(bobs.json().account).toBe(BOB.name);

    const entries = (await audit.list({ limit: 10 })).reverse();
    expect(entries.map((e) => [e.actor, e.action, e.outcome, e.target])).toEqual([
      [OPERATOR.name, 'bulk-upgrade.start', 'ok', { app: APP, bulkUpgrade: b.id }],
      [BOB.name, 'bulk-upgrade.start', 'bulk-upgrade-refused', { app: OTHER }],
      [BOB.name, 'bulk-upgrade.start', 'bulk-upgrade-refused', { app: APP }],
      [OPERATOR.name, 'bulk-upgrade.cancel', 'ok', { app: APP, bulkUpgrade: b.id }],
      [BOB.name, 'bulk-upgrade.start', 'ok', { app: OTHER, bulkUpgrade: bobs.json().id }],
    ]);
  });
});
