/**
 * Update check, "why" and approvals over the HTTP API (real Redis, ManualClock, the rollout
 * workers): per-admin notices with the approval link, reminders every interval until approved,
 * a paused rollout named with who paused it, and the tokens each route takes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { DAY, HOUR, MINUTE } from '../../src/lib/clock.js';
import { registerInstallations } from '../../src/app/rollout/installations.js';
import { reconcile } from '../../src/app/rollout/reconcile.js';
import { ROLLOUT_T0 as T0, createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';
import { asOperator, asViewer, buildTestApp } from '../helpers/http.js';
import { createApprovalLinks } from '../../src/app/rollout/approval-links.js';
import { createQueryStringHash, encodeSymmetric, fromMethodAndUrl } from 'atlassian-jwt';

describe('update check, why and approvals (HTTP, real Redis)', () => {
  let rw: RolloutHarness;
  let app: FastifyInstance;
  beforeEach(async () => {
    rw = await createRolloutHarness({ settings: { approvalReminderIntervalMs: 3 * DAY } });
    rw.ctx.approvalLinks = createApprovalLinks({
      secret: 'approval-secret-0123456789',
      baseUrl: 'https://mpu.example.com',
    });
    ({ app } = await buildTestApp(rw.ctx));
    rw.versions.add({
      appId: 'c',
      kind: 'connect',
      version: '1.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    await registerInstallations(rw.ctx, [
      {
        id: 'i-1',
        appId: 'c',
        site: 'one.example.net',
        version: '1.0.0',
        checkTime: '06:00',
        admins: ['ann@one.example', 'bob@one.example'],
      },
      { id: 'i-2', appId: 'c', site: 'two.example.net', version: '1.0.0', checkTime: '09:00' },
    ]);
  });
  afterEach(async () => {
    await app.close();
    await rw.close();
  });

  const get = (url: string, headers: Record<string, string> = asViewer) => app.inject({ url, headers });

  it('a manual version: one notice per admin with its link, update-check says approval needed, reminders until approved', async () => {
    const P = T0 + HOUR;
    rw.clock.set(P);
    rw.versions.add({
      appId: 'c',
      kind: 'connect',
      version: '1.1.0',
      bump: 'minor',
      approval: 'manual',
      detectedAt: P,
    });
    await rw.plan('c', '1.1.0');
    // before its daily check, nothing is shown yet
    const early = (await get('/v1/installations/i-1/update-check')).json();
    expect(early).toMatchObject({
      status: 'up-to-date',
      run: '1.0.0',
      needsApproval: null,
      nextCheckAt: T0 + 6 * HOUR,
    });
    await rw.runFor(9 * HOUR);
    expect(rw.notices.flatMap((n) => n.notices ?? []).map((n) => [n.to, n.installationId])).toEqual([
      ['ann@one.example', 'i-1'],
      ['bob@one.example', 'i-1'],
      [null, 'i-2'],
    ]);
    expect(rw.notices[0]!.notices![0]!.approvalUrl).toMatch(/^https:\/\/mpu\.example\.com\/v1\/approval-links\/i-1\?/);

    const u = await get('/v1/installations/i-1/update-check');
    expect(u.statusCode).toBe(200);
    expect(u.json()).toMatchObject({
      status: 'approval-needed',
      current: '1.0.0',
      run: '1.0.0',
      needsApproval: '1.1.0',
      nextCheckAt: T0 + DAY + 6 * HOUR,
    });
    expect(u.json().approvalUrl).toMatch(/\/v1\/approval-links\/i-1\?app=c&version=1.1.0&expires=/);
    expect(u.json().message).toMatch(/^update available: 1\.1\.0 needs your admin's approval \(https:/);

    // reminders: none before the interval, one per admin after it, none after approval
    rw.clock.set(T0 + 2 * DAY);
    expect((await reconcile(rw.ctx)).reminded).toBe(0);
    rw.clock.set(T0 + 3 * DAY + 7 * HOUR);
    const before = rw.notices.length;
    expect((await reconcile(rw.ctx)).reminded).toBe(1); // i-2 was notified at 09:00: not due yet
    const reminder = rw.notices.slice(before);
    expect(reminder.map((n) => n.kind)).toEqual(['reminder']);
    expect(reminder[0]!.notices!.map((n) => n.to)).toEqual(['ann@one.example', 'bob@one.example']);
    expect((await reconcile(rw.ctx)).reminded).toBe(0); // once per interval

    const approve = await app.inject({
      method: 'POST',
      url: '/v1/installations/i-1/approve',
      headers: asOperator,
      payload: {},
    });
    expect(approve.statusCode).toBe(202);
    await rw.runFor(MINUTE, MINUTE);
    const list = await get('/v1/approvals/c/1.1.0');
    expect(list.json().counts).toMatchObject({ pending: 1, upgraded: 1 });
    expect(list.json().rows).toEqual([
      {
        installationId: 'i-1',
        site: 'one.example.net',
        admins: ['ann@one.example', 'bob@one.example'],
        state: 'upgraded',
        notifiedAt: T0 + 6 * HOUR,
        remindedAt: [T0 + 3 * DAY + 7 * HOUR],
      },
      expect.objectContaining({ installationId: 'i-2', state: 'pending', admins: [] }),
    ]);
    rw.clock.set(T0 + 6 * DAY + 8 * HOUR);
    const r = await reconcile(rw.ctx);
    expect(r).toMatchObject({ reminded: 1 });
    expect(await rw.ctx.metrics.registry.getSingleMetricAsString('mpu_approvals')).toContain(
      'mpu_approvals{app="c",version="1.1.0",state="pending"} 1',
    );
    expect((await get('/v1/installations/i-1/update-check')).json()).toMatchObject({
      status: 'up-to-date',
      run: '1.1.0',
    });
    const why = (await get('/v1/installations/i-2/why')).json();
    expect(why.reasons).toEqual([
      expect.objectContaining({
        kind: 'needs-approval',
        version: '1.1.0',
        notifiedAt: T0 + 9 * HOUR,
        remindedAt: [T0 + 6 * DAY + 8 * HOUR],
        nextReminderAt: T0 + 9 * DAY + 8 * HOUR,
      }),
    ]);
  });

  it('why names a paused rollout with who paused it and when; the routes need a token', async () => {
    const P = T0 + HOUR;
    rw.clock.set(P);
    rw.versions.add({
      appId: 'c',
      kind: 'connect',
      version: '1.0.1',
      bump: 'micro',
      approval: 'automatic',
      detectedAt: P,
    });
    await rw.plan('c', '1.0.1');
    const waiting = (await get('/v1/installations/i-2/why')).json();
    expect(waiting.words).toEqual(['waiting for its next daily check at 2025-03-03T09:00:00.000Z to take 1.0.1']);
    rw.clock.set(P + MINUTE);
    const pause = await app.inject({ method: 'POST', url: '/v1/rollouts/c/1.0.1/pause', headers: asOperator });
    expect(pause.statusCode).toBe(200);
    await rw.runFor(12 * HOUR);
    const why = (await get('/v1/installations/i-1/why')).json();
    expect(why.reasons).toEqual([{ kind: 'rollout-paused', version: '1.0.1', by: 'alice', at: P + MINUTE }]);
    expect(why.words).toEqual(['the rollout of 1.0.1 is paused by alice at 2025-03-03T01:01:00.000Z']);
    expect((await get('/v1/installations/i-1/update-check', {})).statusCode).toBe(401);
    expect((await get('/v1/installations/i-1/why', asOperator)).statusCode).toBe(200);
    const missing = await get('/v1/installations/nope/update-check');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('installation-not-found');
    expect((await get('/v1/approvals/c/1.0.1')).statusCode).toBe(400);
  });

  it('the installation itself calls its update check with a JWT signed by its shared secret, and only its own', async () => {
    await rw.ctx.sharing.setSecretOnce('c', 'i-1', 'i-1-shared-secret-0123456789');
    const url = '/v1/installations/i-1/update-check';
    const jwt = (iss: string, secret: string, path = url) =>
      encodeSymmetric(
        {
          iss,
          iat: Math.floor(rw.clock.now() / 1000),
          exp: Math.floor(rw.clock.now() / 1000) + 180,
          qsh: createQueryStringHash(fromMethodAndUrl('GET', path)),
        },
        secret,
      );
    const own = await get(url, { authorization: `JWT ${jwt('i-1', 'i-1-shared-secret-0123456789')}` });
    expect(own.statusCode).toBe(200);
    expect(own.json()).toMatchObject({ installationId: 'i-1', status: 'up-to-date', run: '1.0.0' });

    const forged = await get(url, { authorization: `JWT ${jwt('i-1', 'not-the-secret-0123456789')}` });
    expect(forged.statusCode).toBe(401);
    expect(forged.json().error.details.reason).toBe('bad-signature');

    const other = '/v1/installations/i-2/update-check';
    const notOwn = await get(other, { authorization: `JWT ${jwt('i-1', 'i-1-shared-secret-0123456789', other)}` });
    expect(notOwn.statusCode).toBe(403);
    expect(notOwn.json().error.message).toMatch(/may check its own updates only/);

    // the JWT lets the installation through the update check only, not "why"
    const why = await get('/v1/installations/i-1/why', {
      authorization: `JWT ${jwt('i-1', 'i-1-shared-secret-0123456789', '/v1/installations/i-1/why')}`,
    });
    expect(why.statusCode).toBe(401);
  });
});
