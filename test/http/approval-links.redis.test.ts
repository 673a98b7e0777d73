/**
 * Admin approval by link (inject, real Redis): the "update available" notice carries one signed
 * link per installation; GET shows what it approves, POST approves exactly that installation up
 * to that version (audited as `link:<installation>`); a tampered, expired or other-installation
 * link is refused (401), as is a link whose installation moved to another app (403); approvals
 * that approve nothing are refused (approval-refused); the links are rate-limited per IP.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, HOUR, ManualClock } from '../../src/lib/clock.js';
import { createApprovalLinks } from '../../src/app/rollout/approval-links.js';
import { approveInstallation } from '../../src/app/rollout/installations.js';
import { notifyBatch } from '../../src/app/rollout/notify-batch.js';
import { planVersionRollout } from '../../src/app/rollout/plan-version-rollout.js';
import type { AuditStore } from '../../src/store/audit-store.js';
import { ROLLOUT_T0 as T0, createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';
import { APPROVAL_SECRET, asOperator, buildTestApp } from '../helpers/http.js';

describe('approval links (inject, real Redis)', () => {
  let rw: RolloutHarness;
  let app: FastifyInstance;
  let audit: AuditStore;
  let clock: ManualClock;
  const links = createApprovalLinks({ secret: APPROVAL_SECRET, baseUrl: 'https://mpu.example.com', ttlMs: 7 * DAY });

  beforeEach(async () => {
    clock = new ManualClock(T0 + HOUR);
    rw = await createRolloutHarness({ clock, workers: false });
    const add = (version: string, approval: 'manual' | 'automatic', at: number) =>
      rw.versions.add({ appId: 'h', kind: 'connect', version, bump: 'minor', approval, detectedAt: at });
    add('1.0.0', 'automatic', T0 - 2 * DAY);
    add('1.1.0', 'automatic', T0 - DAY);
    add('2.0.0', 'manual', T0);
    add('2.0.1', 'automatic', T0 + 1);
    rw.ctx.approvalLinks = links;
    ({ app, audit } = await buildTestApp(rw.ctx, { rateLimits: { approvalMax: 5 } }));
    await rw.ctx.installs.register(
      ['i1', 'i2', 'i3'].map((id) => ({
        id,
        appId: 'h',
        site: `${id}.example.net`,
        products: ['jira'],
        version: '1.0.0',
        checkOffsetMs: 0,
        maintenance: null,
      })),
      T0,
    );
    await planVersionRollout(rw.ctx, { v: 1, appId: 'h', version: '2.0.0' });
  });
  afterEach(async () => {
    await app.close();
    await rw.close();
  });

  /** The path and query of a link (inject takes them; the host is the public URL's). */
  const local = (url: string) => {
    const u = new URL(url);
    return u.pathname + u.search;
  };
  const linkFor = (installationId: string, version = '2.0.0') =>
    local(links.issue({ installationId, appId: 'h', version }, clock.now()).url);

  it('the notice carries one signed link per installation, and POSTing it approves that installation', async () => {
    const r = await notifyBatch(rw.ctx, {
      v: 1,
      appId: 'h',
      version: '2.0.0',
      at: clock.now(),
      start: 0,
      end: 0,
      ids: ['i1', 'i2'],
    });
    expect(r).toMatchObject({ notified: 2 });
    const [notice] = rw.notices;
    expect(notice!.installations).toEqual([
      { id: 'i1', site: 'i1.example.net', approvalUrl: expect.any(String), approvalExpiresAt: clock.now() + 7 * DAY },
      { id: 'i2', site: 'i2.example.net', approvalUrl: expect.any(String), approvalExpiresAt: clock.now() + 7 * DAY },
    ]);
    const url = notice!.installations[0]!.approvalUrl!;
    expect(url).toMatch(/^https:\/\/mpu\.example\.com\/v1\/approval-links\/i1\?app=h&version=2\.0\.0&expires=\d+&sig=/);

    const shown = await app.inject({ url: local(url) });
    expect(shown.statusCode).toBe(200);
    expect(shown.json()).toMatchObject({
      installationId: 'i1',
      appId: 'h',
      current: '1.0.0',
      version: '2.0.0',
      approval: 'manual',
      approvedUpTo: null,
    });
    expect((await rw.ctx.installs.get('i1')).approvedUpTo).toBeNull(); // GET changes nothing

    const approved = await app.inject({ method: 'POST', url: local(url) });
    expect(approved.statusCode, approved.body).toBe(202);
    expect(approved.json()).toMatchObject({
      installationId: 'i1',
      approvedUpTo: '2.0.0',
      approvedVersions: ['2.0.0'],
      target: '2.0.1', // approving the manual 2.0.0 lets the automatic 2.0.1 pass
    });
    expect((await rw.ctx.installs.get('i1')).approvedUpTo).toBe('2.0.0');
    expect((await rw.ctx.installs.get('i2')).approvedUpTo).toBeNull(); // exactly that installation

    // Clicked twice: refused clearly, nothing changes.
    const twice = await app.inject({ method: 'POST', url: local(url) });
    expect(twice.statusCode).toBe(409);
    expect(twice.json().error).toMatchObject({
      code: 'approval-refused',
      message: expect.stringMatching(/already approved up to 2\.0\.0/),
    });

    const entries = (await audit.list({ limit: 10 })).reverse();
    expect(entries.map((e) => [e.actor, e.action, e.outcome])).toEqual([
      ['link:i1', 'installation.approve', 'ok'],
      ['link:i1', 'installation.approve', 'approval-refused'],
    ]);
    expect(entries[0]!.target).toEqual({ installation: 'i1', app: 'h', version: '2.0.0' });
  });

  it.each`
    name                                     | change                                                                                              | status | message
    ${'another installation (path changed)'} | ${(p: string) => p.replace('/i1?', '/i2?')}                                                         | ${401} | ${/signature does not match/}
    ${'another version'}                     | ${(p: string) => p.replace('version=2.0.0', 'version=2.0.1')}                                       | ${401} | ${/signature does not match/}
    ${'a later expiry'}                      | ${(p: string) => p.replace(/expires=(\d+)/, (_m: string, e: string) => `expires=${Number(e) + 1}`)} | ${401} | ${/signature does not match/}
    ${'no signature'}                        | ${(p: string) => p.replace(/&sig=.*$/, '')}                                                         | ${401} | ${/incomplete/}
  `('$name → $status, nothing approved', async ({ change, status, message }) => {
    for (const method of ['GET', 'POST'] as const) {
      const r = await app.inject({ method, url: change(linkFor('i1')) });
      expect(r.statusCode).toBe(status);
      expect(r.json().error.message).toMatch(message);
    }
    for (const id of ['i1', 'i2']) expect((await rw.ctx.installs.get(id)).approvedUpTo).toBeNull();
  });

  it('an expired link → 401 saying so; a link for an installation now of another app → 403', async () => {
    const old = linkFor('i1');
    clock.advance(7 * DAY);
    const expired = await app.inject({ method: 'POST', url: old });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error.message).toMatch(/expired at .*mpu approve/);

    const foreign = local(links.issue({ installationId: 'i3', appId: 'other-app', version: '2.0.0' }, clock.now()).url);
    const r = await app.inject({ method: 'POST', url: foreign });
    expect(r.statusCode).toBe(403);
    expect(r.json().error).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/belongs to h/) });
    expect((await rw.ctx.installs.get('i1')).approvedUpTo).toBeNull();
  });

  it('approving what needs no approval, or what it cannot take, is refused with a clear message', async () => {
    const jobsBefore = await rw.ctx.queues.rollout.getJobCounts('delayed', 'waiting');
    // 1.1.0 is automatic and nothing before it awaits approval.
    const auto = await app.inject({
      method: 'POST',
      url: '/v1/installations/i1/approve',
      headers: asOperator,
      payload: { version: '1.1.0' },
    });
    expect(auto.statusCode).toBe(409);
    expect(auto.json().error).toMatchObject({ code: 'approval-refused', details: { reason: 'automatic' } });
    expect(auto.json().error.message).toMatch(/1\.1\.0 needs no approval: it is automatic/);
    // Not newer than what it runs.
    await expect(approveInstallation(rw.ctx, 'i1', '1.0.0')).rejects.toMatchObject({
      code: 'approval-refused',
      details: { reason: 'not-newer' },
      message: expect.stringMatching(/runs 1\.0\.0, so 1\.0\.0 is not an update it can take/),
    });
    // Not a version of its app.
    await expect(approveInstallation(rw.ctx, 'i1', '9.0.0')).rejects.toMatchObject({ code: 'version-not-found' });
    expect((await rw.ctx.installs.get('i1')).approvedUpTo).toBeNull();
    expect(await rw.ctx.queues.rollout.getJobCounts('delayed', 'waiting')).toEqual(jobsBefore); // no upgrade
    // An automatic version past an unapproved manual one approves the manual one: accepted.
    const through = await approveInstallation(rw.ctx, 'i1', '2.0.1');
    expect(through).toMatchObject({ approvedVersions: ['2.0.0'], target: '2.0.1' });
  });

  it('links are rate-limited per IP: 429 with Retry-After', async () => {
    const url = linkFor('i1');
    for (let i = 0; i < 5; i++) expect((await app.inject({ url })).statusCode).toBe(200);
    const limited = await app.inject({ method: 'POST', url });
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json().error.code).toBe('rate-limited');
    expect((await rw.ctx.installs.get('i1')).approvedUpTo).toBeNull();
    expect(await audit.list({ limit: 10 })).toEqual([]);
  });
});
