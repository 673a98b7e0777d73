/**
 * Forge deploy intake: forged signature, stale timestamp, replayed event id, malformed
 * body, oversized body → 4xx and nothing stored; the same deployment twice → one version;
 * staging → no version; production → a version with the rollout plan queued. Also /healthz,
 * /metrics and the bull-board token.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { keysMatching } from '../helpers/redis.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { asOperator, asViewer, buildTestApp } from '../helpers/http.js';
import { signDeployEvent, type DeployEvent } from '../../src/poller/deploy-event.js';
import { manifestAppWarning, receiveDeployEvent } from '../../src/app/detection/accept-deployment.js';
import { registerForgeApp } from '../../src/app/detection/register-app.js';
import { planRolloutJobId } from '../../src/jobs/queues.js';
import { requireFixtures } from '../helpers/fixtures.js';
import { createHarness, type Harness } from '../helpers/detection-harness.js';

const SECRET = 'test-secret-0123456789';
const ARI = 'ari:cloud:ecosystem::app/0c8f2b7e-1d2a-4c3b-9e8f-123456789abc';
const fixtures = requireFixtures();
const forgeDir = path.join(fixtures, 'forge', 'atlassian-labs__mermaid-diagrams-viewer');
const manifests = readdirSync(forgeDir)
  .filter((f) => f.endsWith('.yml'))
  .sort()
  .map((f) => readFileSync(path.join(forgeDir, f), 'utf8'));

describe('POST /v1/forge/deployments', () => {
  let h: Harness;
  let app: FastifyInstance;
  beforeEach(async () => {
    h = await createHarness({ workers: true });
    ({ app } = await buildTestApp(h.ctx, { webhookSecret: SECRET, webhookBodyLimit: 64 * 1024 }));
    await registerForgeApp(h.ctx, ARI);
  });
  afterEach(async () => {
    await app.close();
    await h.close();
  });

  const event = (over: Record<string, unknown> = {}) => ({
    eventId: randomUUID(),
    appId: ARI,
    environment: 'production',
    deploymentId: randomUUID(),
    manifest: manifests[0],
    deployedAt: new Date(h.clock.now()).toISOString(),
    ...over,
  });
  function send(body: unknown, opts: { secret?: string; ts?: number; raw?: string } = {}) {
    const raw = opts.raw ?? JSON.stringify(body);
    const ts = String(Math.floor((opts.ts ?? h.clock.now()) / 1000));
    return app.inject({
      method: 'POST',
      url: '/v1/forge/deployments',
      headers: {
        'content-type': 'application/json',
        'x-mpu-timestamp': ts,
        'x-mpu-signature': signDeployEvent(opts.secret ?? SECRET, ts, raw),
      },
      payload: raw,
    });
  }
  const stored = async () => ({
    versions: await h.ctx.versions.listVersions(ARI),
    jobs: await h.ctx.queues.version.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed'),
  });

  it('production deploy → one version, plan queued; the same deployment again → nothing new', async () => {
    const e = event();
    const r1 = await send(e);
    expect(r1.statusCode).toBe(202);
    expect(r1.json()).toMatchObject({ status: 'accepted' });
    await h.drain();
    const again = await send({ ...e, eventId: randomUUID() });
    expect(again.statusCode).toBe(202);
    expect(again.json()).toMatchObject({ status: 'duplicate', version: '2.0.0' });
    await h.drain();
    const versions = await h.ctx.versions.listVersions(ARI);
    expect(versions.map((v) => [v.version, v.bump, v.source, v.deploymentId])).toEqual([
      ['2.0.0', 'initial', 'deploy', e.deploymentId],
    ]);
    expect(await h.ctx.queues.rollout.getJob(planRolloutJobId({ v: 1, appId: ARI, version: '2.0.0' }))).toBeDefined();
    // An unchanged manifest deployed again (new deployment) is a code deploy: minor, automatic.
    expect((await send(event())).statusCode).toBe(202);
    await h.drain();
    const after = await h.ctx.versions.listVersions(ARI);
    expect(after.map((v) => [v.version, v.bump, v.approval])).toEqual([
      ['2.0.0', 'initial', 'automatic'],
      ['2.1.0', 'minor', 'automatic'],
    ]);
  });

  it('staging → no version (the environment is recorded)', async () => {
    const r = await send(event({ environment: 'staging' }));
    expect(r.statusCode).toBe(202);
    expect(r.json()).toMatchObject({ status: 'non-production', environment: 'staging' });
    await h.drain();
    expect((await stored()).versions).toEqual([]);
    expect(Object.keys((await h.ctx.apps.requireApp(ARI)).environments ?? {})).toEqual(['staging']);
  });

  it.each`
    name                  | make                                                                                           | status | code
    ${'forged signature'} | ${(e: object) => ({ body: e, opts: { secret: 'wrong-secret-0123456789' } })}                   | ${401} | ${'webhook-signature-invalid'}
    ${'stale timestamp'}  | ${(e: object, now: number) => ({ body: e, opts: { ts: now - 5 * 60_000 - 2_000 } })}           | ${401} | ${'webhook-signature-invalid'}
    ${'future timestamp'} | ${(e: object, now: number) => ({ body: e, opts: { ts: now + 6 * 60_000 } })}                   | ${401} | ${'webhook-signature-invalid'}
    ${'malformed JSON'}   | ${(e: object) => ({ body: e, opts: { raw: '{"eventId": ' } })}                                 | ${400} | ${'payload-invalid'}
    ${'missing fields'}   | ${(e: object) => ({ body: { ...e, deploymentId: undefined, appId: 'not-an-ari' }, opts: {} })} | ${400} | ${'payload-invalid'}
    ${'invalid manifest'} | ${(e: object) => ({ body: { ...e, manifest: 'app: [unclosed' }, opts: {} })}                   | ${422} | ${'descriptor-invalid'}
    ${'oversized body'}   | ${(e: object) => ({ body: { ...e, manifest: 'x'.repeat(70 * 1024) }, opts: {} })}              | ${413} | ${'FST_ERR_CTP_BODY_TOO_LARGE'}
  `('$name → $status, nothing stored', async ({ make, status, code }) => {
    const { body, opts } = make(event(), h.clock.now());
    const r = await send(body, opts);
    expect(r.statusCode).toBe(status);
    expect(r.json().error.code).toBe(code);
    await h.drain();
    const s = await stored();
    expect(s.versions).toEqual([]);
    expect(Object.values(s.jobs).reduce((a, b) => a + b, 0)).toBe(0);
  });

  it.each`
    field             | value                 | message
    ${'environment'}  | ${'production\u200b'} | ${/environment 'production\\u\{200b\}' contains non-ASCII .*\(U\+200B\): did you mean 'production'\?/}
    ${'environment'}  | ${'Production'}       | ${/environment 'Production' must be lower-case: did you mean 'production'\?/}
    ${'environment'}  | ${'\u0440roduction'}  | ${/environment 'рroduction' contains non-ASCII .*\(U\+0440\): did you mean 'production'\?/}
    ${'environment'}  | ${'prod env'}         | ${/environment 'prod env' must be a lower-case letter/}
    ${'eventId'}      | ${'ev\u0000il'}       | ${/eventId 'ev\\u\{0\}il' contains non-ASCII or control characters \(U\+0000\)/}
    ${'deploymentId'} | ${'dep\u202eloy'}     | ${/deploymentId 'dep\\u\{202e\}loy' contains non-ASCII or control characters \(U\+202E\)/}
    ${'deploymentId'} | ${'a'.repeat(201)}    | ${/deploymentId 'a+' must be 1 to 200/}
  `('$field $value → 400 payload-invalid saying why, nothing stored', async ({ field, value, message }) => {
    const r = await send(event({ [field]: value }));
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe('payload-invalid');
    expect(r.json().error.message).toMatch(message);
    await h.drain();
    expect((await stored()).versions).toEqual([]);
    expect((await h.ctx.apps.requireApp(ARI)).environments ?? {}).toEqual({});
    const keys = await keysMatching(h.connection, `${h.prefix}*`);
    expect(keys.filter((k) => /[^\x20-\x7e]/.test(k))).toEqual([]);
    expect(await h.connection.hkeys(h.ctx.keys.deployments(ARI))).toEqual([]);
  });

  it("a manifest naming another app is accepted and versioned for the event's app, with a warning", async () => {
    const other = manifests[0]!;
    const own = other.replace(/^(\s*id:\s*).*$/m, `$1${ARI}`); // the app.id line comes first
    expect(own).not.toBe(other);
    expect(
      manifestAppWarning(ARI, ARI.toUpperCase().replace('ARI:CLOUD:ECOSYSTEM::APP', 'ari:cloud:ecosystem::app')),
    ).toEqual([]);
    const mismatch = await receiveDeployEvent(h.ctx, event({ manifest: other }) as DeployEvent, 60_000);
    expect(mismatch).toMatchObject({
      status: 'accepted',
      warnings: [{ code: 'deploy-app-mismatch', detail: expect.stringMatching(/is not the app deployed to/) }],
    });
    const same = await receiveDeployEvent(h.ctx, event({ manifest: own }) as DeployEvent, 60_000);
    expect(same).toMatchObject({ status: 'accepted', warnings: [] });
    await h.drain();
    expect((await h.ctx.versions.listVersions(ARI)).map((v) => v.version)).toEqual(['2.0.0', '2.1.0']);
    // The use case checks the event too, whoever calls it.
    await expect(
      receiveDeployEvent(h.ctx, event({ environment: 'Production' }) as DeployEvent, 60_000),
    ).rejects.toMatchObject({ code: 'payload-invalid' });
  });

  it("the intake's 202 names the warning of a manifest naming another app", async () => {
    const r = await send(event({ manifest: manifests[0]! }));
    expect(r.statusCode).toBe(202);
    expect(r.json()).toMatchObject({ status: 'accepted', warnings: [{ code: 'deploy-app-mismatch' }] });
  });

  it('a replayed event id → 409, nothing new', async () => {
    const e = event({ environment: 'staging' });
    expect((await send(e)).statusCode).toBe(202);
    const replay = await send(e);
    expect(replay.statusCode).toBe(409);
    expect(replay.json().error.code).toBe('webhook-replayed');
    // replayed as production with the same event id: still refused
    const r = await send({ ...e, environment: 'production' });
    expect(r.statusCode).toBe(409);
    await h.drain();
    expect((await stored()).versions).toEqual([]);
  });

  it('an unknown app → 404 and the event may be resent once the app is registered', async () => {
    const e = event({ appId: 'ari:cloud:ecosystem::app/00000000-0000-0000-0000-000000000000' });
    const r = await send(e);
    expect(r.statusCode).toBe(404);
    expect(r.json().error.message).toMatch(/mpu apps list/);
  });

  it('ops: /healthz, /metrics, and bull-board behind its token', async () => {
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    await send(event());
    await h.drain();
    const metrics = (await app.inject({ url: '/metrics', headers: asViewer })).body;
    expect(metrics).toMatch(/mpu_versions_total\{kind="forge",bump="initial",approval="automatic"\} 1/);
    expect(metrics).toMatch(/mpu_deploy_events_total\{result="accepted"\} 1/);
    expect(metrics).toMatch(/mpu_queue_jobs\{queue="rollout",state="waiting"\} 1/);
    expect(metrics).toMatch(/^mpu_poll_fetches_in_flight 0$/m);
    expect((await app.inject('/admin/queues')).statusCode).toBe(401);
    const ok = await app.inject({ url: '/admin/queues', headers: asOperator });
    expect(ok.statusCode).toBe(200);
    const api = await app.inject({ url: '/admin/queues/api/queues', headers: asOperator });
    expect(api.body).toContain('descriptor-poll');
  });
});
