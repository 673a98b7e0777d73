/**
 * Authentication, roles, rate limits and the audit trail of the HTTP API (inject, real Redis):
 * every /v1 write route answers 401 without credentials (with `WWW-Authenticate: Bearer`), 403
 * to a viewer and works for an operator, leaving one audit entry naming the operator; every GET
 * answers 401 anonymously and 200 to a viewer; bull-board is for operators (bearer or cookie);
 * the routes reachable without a token are rate-limited per IP (429 with Retry-After).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, HOUR, ManualClock } from '../../src/lib/clock.js';
import { registerConnectApp } from '../../src/app/detection/register-app.js';
import { planVersionRollout } from '../../src/app/rollout/plan-version-rollout.js';
import { signDeployEvent } from '../../src/poller/deploy-event.js';
import type { AuditStore } from '../../src/store/audit-store.js';
import type { VersionRecord } from '../../src/store/types.js';
import { ROLLOUT_T0 as T0, createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';
import { MemoryVersions } from '../rollout/helpers.js';
import { OPERATOR, VIEWER, asOperator, asViewer, buildTestApp } from '../helpers/http.js';

/** The versions the app routes read too (`latestVersion`). */
class Versions extends MemoryVersions {
  async latestVersion(appId: string): Promise<VersionRecord | null> {
    return (await this.listVersions(appId)).at(-1) ?? null;
  }
}

const WEBHOOK_SECRET = 'auth-test-webhook-secret-0123';

describe('HTTP API authentication, roles and audit (inject, real Redis)', () => {
  let rw: RolloutHarness;
  let app: FastifyInstance;
  let audit: AuditStore;

  beforeEach(async () => {
    const versions = new Versions();
    versions.add({
      appId: 'h',
      kind: 'connect',
      version: '1.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    versions.add({ appId: 'h', kind: 'connect', version: '2.0.0', bump: 'major', approval: 'manual', detectedAt: T0 });
    rw = await createRolloutHarness({ clock: new ManualClock(T0 + HOUR), versions, workers: false });
    ({ app, audit } = await buildTestApp(rw.ctx, {
      webhookSecret: WEBHOOK_SECRET,
      rateLimits: { deployMax: 3, approvalMax: 2, windowMs: 60_000 },
    }));
    await registerConnectApp(rw.ctx, 'h', 'https://vendor.example.com/atlassian-connect.json');
    await rw.ctx.installs.register([{ ...installation('i1'), checkOffsetMs: 0, maintenance: null }], T0);
    await planVersionRollout(rw.ctx, { v: 1, appId: 'h', version: '2.0.0' });
  });
  afterEach(async () => {
    await app.close();
    await rw.close();
  });

  function installation(id: string) {
    return { id, appId: 'h', site: `${id}.example.net`, products: ['jira'], version: '1.0.0' };
  }

  // Each write route, with a body that succeeds for an operator. Approve before halt: a halted
  // rollout cannot be approved.
  const writes: { name: string; method: 'POST'; url: string; payload?: unknown; ok: number; action: string }[] = [
    {
      name: 'register installations',
      method: 'POST',
      url: '/v1/installations',
      payload: [
        { id: 'n1', appId: 'h', site: 'n1.example.net', version: '1.0.0' },
        { id: 'n2', appId: 'h', site: 'n2.example.net', version: '1.0.0' },
      ],
      ok: 200,
      action: 'installation.register',
    },
    {
      name: 'approve',
      method: 'POST',
      url: '/v1/installations/i1/approve',
      payload: { version: '2.0.0' },
      ok: 202,
      action: 'installation.approve',
    },
    { name: 'pause', method: 'POST', url: '/v1/rollouts/h/2.0.0/pause', ok: 200, action: 'rollout.pause' },
    { name: 'resume', method: 'POST', url: '/v1/rollouts/h/2.0.0/resume', ok: 200, action: 'rollout.resume' },
    { name: 'halt', method: 'POST', url: '/v1/rollouts/h/2.0.0/halt', ok: 200, action: 'rollout.halt' },
  ];

  it.each(writes)('$name: 401 anonymous or with a wrong token, 403 viewer, nothing audited', async (w) => {
    const anon = await app.inject({ method: w.method, url: w.url, payload: w.payload as object });
    expect(anon.statusCode).toBe(401);
    expect(anon.headers['www-authenticate']).toBe('Bearer realm="mpu"');
    expect(anon.json().error).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/operator token/) });
    const wrong = await app.inject({
      method: w.method,
      url: w.url,
      payload: w.payload as object,
      headers: { authorization: `Bearer ${OPERATOR.token}x` },
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    const viewer = await app.inject({ method: w.method, url: w.url, payload: w.payload as object, headers: asViewer });
    expect(viewer.statusCode).toBe(403);
    expect(viewer.json().error).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/grafana.*viewer/) });
    // Nothing happened: the installation is not approved, the rollout not paused.
    expect((await rw.ctx.installs.get('i1')).approvedUpTo).toBeNull();
    expect(await rw.ctx.rollouts.status('h', '2.0.0')).toBe('awaiting-approval');
    // The viewer's attempt is recorded (a known actor was refused); the anonymous ones are not.
    const entries = await audit.list({ limit: 10 });
    expect(entries).toMatchObject([{ actor: VIEWER.name, action: w.action, outcome: 'forbidden' }]);
    if (w.url.includes('/i1/')) expect(entries[0]!.target).toEqual({ installation: 'i1' });
    if (w.url.includes('/rollouts/')) expect(entries[0]!.target).toEqual({ app: 'h', version: '2.0.0' });
  });

  it('every write route works for an operator and leaves one audit entry naming it', async () => {
    for (const w of writes) {
      const r = await app.inject({ method: w.method, url: w.url, payload: w.payload as object, headers: asOperator });
      expect(r.statusCode, `${w.name}: ${r.body}`).toBe(w.ok);
    }
    const entries = (await audit.list({ limit: 100 })).reverse();
    expect(entries.map((e) => [e.actor, e.action, e.outcome])).toEqual(
      writes.map((w) => [OPERATOR.name, w.action, 'ok']),
    );
    expect(entries[0]!.target).toEqual({ app: 'h', count: 2 });
    expect(entries[1]!.target).toEqual({ app: 'h', installation: 'i1', version: '2.0.0' });
    expect(entries[4]!.target).toEqual({ app: 'h', version: '2.0.0' });
    for (const e of entries) {
      expect(e.requestId).toMatch(/^req-/);
      expect(e.at).toBe(new Date(e.atMs).toISOString());
    }
    // A failed action is recorded with its error code.
    const again = await app.inject({ method: 'POST', url: '/v1/rollouts/h/2.0.0/resume', headers: asOperator });
    expect(again.statusCode).toBe(409);
    expect((await audit.list({ limit: 1 }))[0]).toMatchObject({
      action: 'rollout.resume',
      outcome: 'rollout-conflict',
    });
    // An operator may read too.
    expect((await app.inject({ url: '/v1/audit', headers: asOperator })).statusCode).toBe(200);
  });

  const reads = [
    '/v1/apps',
    '/v1/apps/h',
    '/v1/apps/h/versions',
    '/v1/installations/i1',
    '/v1/apps/h/installations',
    '/v1/apps/h/distribution',
    '/v1/rollouts',
    '/v1/rollouts/h/2.0.0',
    '/v1/audit',
    '/metrics',
  ];
  it.each(reads)('GET %s: 401 anonymous, 200 viewer', async (url) => {
    const anon = await app.inject({ url });
    expect(anon.statusCode).toBe(401);
    expect(anon.headers['www-authenticate']).toBe('Bearer realm="mpu"');
    const viewer = await app.inject({ url, headers: asViewer });
    expect(viewer.statusCode, viewer.body).toBe(200);
  });

  it('/healthz is public; an unknown route needs a token too', async () => {
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    expect((await app.inject('/v1/nothing')).statusCode).toBe(401);
    expect((await app.inject({ url: '/v1/nothing', headers: asViewer })).statusCode).toBe(404);
  });

  it('GET /v1/audit: newest first, by app, bounded limit', async () => {
    for (const [app_, at] of [
      ['h', 1],
      ['other', 2],
      ['h', 3],
    ] as const)
      await audit.record({
        actor: 'x',
        action: 'app.add',
        atMs: at,
        target: { app: app_ },
        requestId: `r${at}`,
        outcome: 'ok',
      });
    const all = (await app.inject({ url: '/v1/audit?limit=2', headers: asViewer })).json();
    expect(all.entries.map((e: { requestId: string }) => e.requestId)).toEqual(['r3', 'r2']);
    const h = (await app.inject({ url: '/v1/audit?app=h', headers: asViewer })).json();
    expect(h.entries.map((e: { requestId: string }) => e.requestId)).toEqual(['r3', 'r1']);
    expect((await app.inject({ url: '/v1/audit?limit=0', headers: asViewer })).statusCode).toBe(400);
  });

  it('bull-board: operators only, by bearer or by the cookie a ?token= visit sets', async () => {
    expect((await app.inject('/admin/queues')).statusCode).toBe(401);
    expect((await app.inject({ url: '/admin/queues', headers: asViewer })).statusCode).toBe(403);
    expect((await app.inject({ url: '/admin/queues', headers: asOperator })).statusCode).toBe(200);
    const visit = await app.inject({ url: `/admin/queues?token=${OPERATOR.token}` });
    expect(visit.statusCode).toBe(200);
    const cookie = String(visit.headers['set-cookie']);
    expect(cookie).toMatch(/^mpu_token=.+; Path=\/admin\/queues; HttpOnly; SameSite=Strict$/);
    const api = await app.inject({ url: '/admin/queues/api/queues', headers: { cookie: cookie.split(';')[0]! } });
    expect(api.statusCode).toBe(200);
    expect(api.body).toContain('rollout');
    // The cookie and ?token= are bull-board's only: the API takes bearer tokens.
    expect((await app.inject({ url: '/v1/apps', headers: { cookie: cookie.split(';')[0]! } })).statusCode).toBe(401);
    expect((await app.inject({ url: `/v1/apps?token=${OPERATOR.token}` })).statusCode).toBe(401);
    expect(
      (await app.inject({ url: `/admin/queues?token=${VIEWER.token}` })).statusCode,
      'a viewer token in the query',
    ).toBe(403);
  });

  it('deploy intake: public (HMAC), audited as deploy-hook, rate-limited per IP with Retry-After', async () => {
    const send = (secret = WEBHOOK_SECRET) => {
      const raw = JSON.stringify({
        eventId: randomUUID(),
        appId: 'h',
        environment: 'staging',
        deploymentId: randomUUID(),
        manifest: 'app:\n  id: x\n',
        deployedAt: new Date(rw.clock.now()).toISOString(),
      });
      const ts = String(Math.floor(rw.clock.now() / 1000));
      return app.inject({
        method: 'POST',
        url: '/v1/forge/deployments',
        headers: {
          'content-type': 'application/json',
          'x-mpu-timestamp': ts,
          'x-mpu-signature': signDeployEvent(secret, ts, raw),
        },
        payload: raw,
      });
    };
    const first = await send();
    expect(first.statusCode, first.body).not.toBe(401);
    expect((await send('wrong-secret-0123456789')).statusCode).toBe(401);
    await send();
    const limited = await send();
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json().error).toMatchObject({ code: 'rate-limited' });
    const entries = (await audit.list({ limit: 10 })).reverse();
    expect(entries.map((e) => [e.actor, e.action])).toEqual([
      ['deploy-hook', 'deploy.receive'],
      ['anonymous', 'deploy.receive'],
      ['deploy-hook', 'deploy.receive'],
    ]);
    expect(entries[1]!.outcome).toBe('webhook-signature-invalid');
    // Operators' routes are not limited.
    for (let i = 0; i < 5; i++) expect((await app.inject({ url: '/v1/apps', headers: asViewer })).statusCode).toBe(200);
  });

  it('does not log tokens: the ?token= of a bull-board visit is redacted from the request log', async () => {
    const lines: string[] = [];
    const { createLogger } = await import('../../src/lib/logger.js');
    const logger = createLogger({ level: 'info', destination: { write: (s: string) => void lines.push(s) } });
    const { app: logged } = await buildTestApp({ ...rw.ctx, logger });
    try {
      await logged.inject({ url: `/admin/queues?token=${OPERATOR.token}` });
      await logged.inject({ url: '/v1/apps', headers: asOperator });
    } finally {
      await logged.close();
    }
    const text = lines.join('');
    expect(text).toContain('incoming request');
    expect(text).toContain('token=[redacted]');
    expect(text).not.toContain(OPERATOR.token);
  });
});
