/**
 * The Connect to Forge adoption end to end through the daemon's workers (real Redis, a
 * ManualClock): a Connect app with installations on two Connect versions, a Forge app whose
 * first production deploy names the Connect key → the versioning worker stores the Forge version
 * and enqueues its plan → the plan enqueues the adoption's batches → over 120 h the eligible
 * installations move, each once, inside the window; the others are notified (one signed link
 * each, naming the Forge version) and move only on approval (HTTP, the link, `mpu approve`); `mpu
 * rollouts show` and `mpu distribution` print the connect-to-forge progress. Connect installations
 * registered after the adoption was planned join it through the late planner: the eligible ones
 * move once inside what remains of the window (at once after it), the others are notified.
 */
import { capture } from '../helpers/stdout.js';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { receiveDeployEvent } from '../../src/app/detection/accept-deployment.js';
import { registerForgeApp } from '../../src/app/detection/register-app.js';
import { createApprovalLinks } from '../../src/app/rollout/approval-links.js';
import { planVersionRollout } from '../../src/app/rollout/plan-version-rollout.js';
import { approveAdoption } from '../../src/app/rollout/adoption.js';
import { registerInstallations } from '../../src/app/rollout/installations.js';
import { planLateInstallations } from '../../src/app/rollout/late-installations.js';
import { listRollouts, showRollout, versionDistribution } from '../../src/app/rollout/rollouts.js';
import { ADOPTION_BATCH_JOB_NAME, type AdoptionBatchJob } from '../../src/jobs/queues.js';
import { HOUR } from '../../src/lib/clock.js';
import type { DeployEvent } from '../../src/poller/deploy-event.js';
import type { Installation } from '../../src/rollout/types.js';
import { parseDescriptor } from '../../src/versioning/index.js';
import { approveCommand, distributionCommand, showRolloutCommand } from '../../src/cli/commands/installations.js';
import { createHarness, type Harness } from '../helpers/detection-harness.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { APPROVAL_SECRET, asOperator, buildTestApp } from '../helpers/http.js';
import { createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';
import { drain } from '../rollout/helpers.js';

const C = 'com.example.issue-notes';
const F = 'ari:cloud:ecosystem::app/0f8e3c7a-5b2d-4e61-9a4f-2c7d8b1e6a35';
const connectText = readFileSync('examples/connect-to-forge/atlassian-connect.json', 'utf8');
const manifestText = readFileSync('examples/connect-to-forge/manifest.yml', 'utf8');
/** 1.0.0 holds READ only: the Forge manifest's write scopes are an elevation for it (approval). */
const readOnly = JSON.stringify({ ...(JSON.parse(connectText) as object), scopes: ['READ'] });

let h: Harness;
let rw: RolloutHarness;
let app: FastifyInstance;

const inst = (id: string, version: string): Installation => ({
  id,
  appId: C,
  site: `${id}.example.net`,
  products: ['jira'],
  version,
  checkOffsetMs: 0,
  maintenance: null,
});

beforeEach(async () => {
  h = await createHarness({ workers: true });
  // The rollout workers on the same Redis, prefix and clock, reading the versions the detection side stores.
  rw = await createRolloutHarness({ share: h, clock: h.clock, versions: h.ctx.versions });
  rw.ctx.approvalLinks = createApprovalLinks({ secret: APPROVAL_SECRET, baseUrl: 'https://mpu.example.com' });
  ({ app } = await buildTestApp(rw.ctx));
  const now = h.clock.now();
  await h.ctx.apps.addConnectApp({ id: C, descriptorUrl: 'https://notes.example.com/atlassian-connect.json', now });
  let latest: string | null = null;
  for (const [version, text, at] of [
    ['1.0.0', readOnly, now - 30 * 24 * HOUR],
    ['1.1.0', connectText, now - 10 * 24 * HOUR],
  ] as const) {
    const parsed = parseDescriptor(text, { source: `${C}@${version}`, kind: 'connect' });
    const descriptorHash = await h.ctx.descriptors.saveDescriptor(C, parsed);
    const bump = latest === null ? 'initial' : 'minor';
    const r = await h.ctx.versions.storeVersion(
      {
        appId: C,
        kind: 'connect',
        version,
        bump,
        approval: 'automatic',
        reasons: [],
        warnings: [],
        descriptorHash,
        source: 'cli',
        detectedAt: at,
      },
      latest,
    );
    expect(r).toMatchObject({ status: 'created' });
    latest = version;
  }
  await registerForgeApp(h.ctx, F);
  await rw.ctx.installs.register(
    [
      ...Array.from({ length: 12 }, (_, k) => inst(`new-${k}`, '1.1.0')),
      ...Array.from({ length: 4 }, (_, k) => inst(`old-${k}`, '1.0.0')),
    ],
    now,
  );
});
afterEach(async () => {
  await app.close();
  await rw.close();
  await h.close();
});

it('moves every eligible installation once within 120 h, the others only on approval', async () => {
  const deployedAt = h.clock.now();
  const planned = rw.ctx.events.next('rollout:planned', (e) => e.appId === F, 20_000);
  const deploy: DeployEvent = {
    eventId: randomUUID(),
    appId: F,
    environment: 'production',
    deploymentId: randomUUID(),
    manifest: manifestText,
    deployedAt: new Date(deployedAt).toISOString(),
  };
  expect(await receiveDeployEvent(h.ctx, deploy, 60_000)).toMatchObject({ status: 'accepted' });
  const { version } = await planned;
  await drain(rw.queues());
  expect((await h.ctx.versions.listVersions(F)).map((v) => v.version)).toEqual([version]);

  // A plan run again (a redelivery) enqueues the same adoption jobs: nothing new.
  const adoptionJobs = async () =>
    (await rw.ctx.queues.rollout.getJobs(['delayed', 'waiting', 'completed', 'active'])).filter(
      (j) => j.name === ADOPTION_BATCH_JOB_NAME,
    ).length;
  const before = await adoptionJobs();
  expect(before).toBeGreaterThan(1);
  expect(await planVersionRollout(rw.ctx, { v: 1, appId: F, version })).toMatchObject({ alreadyPlanned: true });
  expect(await adoptionJobs()).toBe(before);

  // The waiting ones were notified at publication, once, each with a link naming the Forge version.
  const notified = rw.notices.filter((n) => n.successorAppId === F).flatMap((n) => n.installations);
  expect(notified.map((i) => i.id).sort()).toEqual(['old-0', 'old-1', 'old-2', 'old-3']);
  const link = new URL(notified.find((i) => i.id === 'old-3')!.approvalUrl!);
  expect(link.searchParams.get('app')).toBe(C);
  expect(link.searchParams.get('version')).toBe(version);

  const window = rw.ctx.rolloutPolicy.adoptionWindowMs;
  await rw.runFor(window);
  await rw.replan(F, version);

  expect(await rw.ctx.installs.distribution(F)).toEqual({ [version]: 12 });
  expect(await rw.ctx.installs.distribution(C)).toEqual({ '1.0.0': 4 });
  const histories = await rw.histories(F);
  for (let k = 0; k < 12; k++) {
    const moves = histories.get(`new-${k}`)!.filter((e) => e.kind === 'moved');
    expect(moves).toHaveLength(1);
    expect(moves[0]!.at).toBeGreaterThanOrEqual(deployedAt);
    expect(moves[0]!.at).toBeLessThan(deployedAt + window);
  }
  for (let k = 0; k < 4; k++)
    expect(await rw.ctx.installs.get(`old-${k}`)).toMatchObject({ appId: C, updateAvailable: `${F}@${version}` });
  expect(rw.notices.filter((n) => n.successorAppId === F).flatMap((n) => n.installations)).toHaveLength(4);

  // What operators see: a connect-to-forge rollout and both apps' sites.
  const rollout = (await listRollouts(rw.ctx, { appId: F }))[0]!;
  expect(rollout).toMatchObject({
    appId: F,
    version,
    installations: 16,
    reached: 12,
    progressPercent: 75,
    complete: false,
    adoption: { type: 'connect-to-forge', connectAppId: C, onConnect: 4, onForge: 12, windowEnd: deployedAt + window },
  });
  expect((await showRollout(rw.ctx, F, version)).adoption).toEqual(rollout.adoption);
  for (const id of [C, F])
    expect((await versionDistribution(rw.ctx, id)).adoption).toMatchObject({ onConnect: 4, onForge: 12 });

  // An operator's approval (HTTP) moves one; the admin's link moves another.
  const approved = await app.inject({
    method: 'POST',
    url: '/v1/installations/old-1/approve',
    headers: asOperator,
    payload: { version },
  });
  expect(approved.statusCode).toBe(202);
  expect(approved.json()).toMatchObject({ appId: F, adoptedFrom: C, current: '1.0.0', target: version });
  const byLink = await app.inject({ method: 'POST', url: link.pathname + link.search });
  expect(byLink.statusCode).toBe(202);
  expect(await rw.ctx.installs.get('old-1')).toMatchObject({ appId: F, version });
  const moved = (await rw.ctx.installs.get('old-3')).history.at(-1);
  expect(moved).toMatchObject({ kind: 'moved', cause: 'approval', from: { appId: C, version: '1.0.0' } });
  expect(await rw.ctx.installs.distribution(C)).toEqual({ '1.0.0': 2 });
  expect(await rw.ctx.installs.distribution(F)).toEqual({ [version]: 14 });

  // The CLI (on the same Redis and prefix, as the CLI reads them from the environment).
  const env = { REDIS_URL: process.env.REDIS_URL, MPU_PREFIX: process.env.MPU_PREFIX };
  process.env.REDIS_URL = TEST_REDIS_URL;
  process.env.MPU_PREFIX = h.prefix;
  try {
    const approvedByCli = await capture(() => approveCommand('old-2', version, {}));
    expect(approvedByCli).toContain(`old-2: moved from ${C}@1.0.0 to ${F}@${version}`);
    const shown = await capture(() => showRolloutCommand(`${F}@${version}`, {}));
    expect(shown).toContain(`connect-to-forge: ${C} → ${F}@${version}: 15 site(s) on Forge, 1 on Connect (93.75 %)`);
    expect(await capture(() => distributionCommand(C, {}))).toContain('15 site(s) on Forge, 1 on Connect');
  } finally {
    for (const [k, v] of Object.entries(env))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
  expect(await rw.ctx.installs.appOf('old-2')).toBe(F);
});

it('a Connect installation registered after the adoption plan joins it: moved once, or notified', async () => {
  // The installations registered before the deploy are planned by the adoption plan: their log entry is handled first.
  expect(await planLateInstallations(rw.ctx, { v: 1, appId: C })).toMatchObject({ registrations: 1, adoptionMoves: 0 });
  const deployedAt = h.clock.now();
  const planned = rw.ctx.events.next('rollout:planned', (e) => e.appId === F, 20_000);
  const deploy: DeployEvent = {
    eventId: randomUUID(),
    appId: F,
    environment: 'production',
    deploymentId: randomUUID(),
    manifest: manifestText,
    deployedAt: new Date(deployedAt).toISOString(),
  };
  expect(await receiveDeployEvent(h.ctx, deploy, 60_000)).toMatchObject({ status: 'accepted' });
  const { version } = await planned;
  await drain(rw.queues());
  const window = rw.ctx.rolloutPolicy.adoptionWindowMs;
  await rw.runFor(100 * HOUR);

  // 100 h into the window: one on the eligible Connect version, one on the version that needs approval.
  const registeredAt = h.clock.now();
  const raw = (id: string, version: string) => ({
    id,
    appId: C,
    site: `${id}.example.net`,
    products: ['jira'],
    version,
  });
  await registerInstallations(rw.ctx, [raw('late-new', '1.1.0'), raw('late-old', '1.0.0')]);
  const adoptionJobs = async () =>
    (await rw.ctx.queues.rollout.getJobs(['delayed', 'waiting', 'completed', 'active', 'failed']))
      .filter((j) => j.name === ADOPTION_BATCH_JOB_NAME)
      .map((j) => j.data as AdoptionBatchJob)
      .filter((d) => d.ids.some((id) => id.startsWith('late-')));
  const [entry] = await rw.ctx.installs.pendingRegistrations(C, 10);
  const first = await planLateInstallations(rw.ctx, { v: 1, appId: C });
  expect(first).toMatchObject({ registrations: 1, considered: 2, adoptionMoves: 1, adoptionNotices: 1, batches: 2 });
  const jobs = await adoptionJobs();
  expect(jobs.map((j) => [j.kind, j.ids])).toEqual(
    expect.arrayContaining([
      ['move', ['late-new']],
      ['notify', ['late-old']],
    ]),
  );
  const move = jobs.find((j) => j.kind === 'move')!;
  expect(move.at).toBeGreaterThanOrEqual(registeredAt);
  expect(move.at).toBeLessThan(deployedAt + window);

  // A redelivery of a job that died before dropping the entry from the log: the same jobs, nothing new.
  await rw.connection.lpush(rw.ctx.keys.installationLog(C), entry!.entry);
  expect(await planLateInstallations(rw.ctx, { v: 1, appId: C })).toEqual(first);
  expect(await adoptionJobs()).toHaveLength(jobs.length);
  // The late-planning job the registration enqueued finds nothing left.
  await rw.runFor(window - 100 * HOUR + 8 * HOUR);
  expect(await adoptionJobs()).toHaveLength(jobs.length);

  const moves = (await rw.ctx.installs.get('late-new')).history.filter((e) => e.kind === 'moved');
  expect(moves).toHaveLength(1);
  expect(moves[0]!.at).toBeGreaterThanOrEqual(registeredAt);
  expect(moves[0]!.at).toBeLessThan(deployedAt + window);
  expect(await rw.ctx.installs.get('late-new')).toMatchObject({ appId: F, version });
  // The other was shown the Forge version once and waits for approval.
  const lateNotices = rw.notices
    .filter((n) => n.successorAppId === F)
    .flatMap((n) => n.installations)
    .filter((i) => i.id === 'late-old');
  expect(lateNotices).toHaveLength(1);
  expect(lateNotices[0]!.approvalUrl).toContain(`version=${encodeURIComponent(version)}`);
  expect(await rw.ctx.installs.get('late-old')).toMatchObject({ appId: C, updateAvailable: `${F}@${version}` });

  // Registered after the window: due at once (within the maintenance cap).
  const afterAt = h.clock.now();
  await registerInstallations(rw.ctx, [raw('after-window', '1.1.0')]);
  await rw.runFor(rw.ctx.rolloutPolicy.maintenanceCapMs);
  const after = (await rw.ctx.installs.get('after-window')).history.filter((e) => e.kind === 'moved');
  expect(after).toHaveLength(1);
  expect(after[0]!.at).toBeGreaterThanOrEqual(afterAt);

  // Only an approval moves the one that needed it.
  expect(await approveAdoption(rw.ctx, 'late-old', F, version)).toBe(true);
  expect(await rw.ctx.installs.get('late-old')).toMatchObject({ appId: F, version });
  expect((await rw.ctx.installs.get('late-old')).history.filter((e) => e.kind === 'moved')).toHaveLength(1);
});
