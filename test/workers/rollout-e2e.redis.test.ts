/**
 * End to end on real Redis with the daemon's own detection side: a
 * Connect descriptor changes on a local server → the scheduler polls it → the versioning worker
 * stores 1.0.1 (micro, automatic) and enqueues the plan → the rollout workers upgrade every
 * installation, each inside 5 h + 24 h + 4 h of the change (DESIGN.md "Rollout rules").
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { HOUR } from '../../src/lib/clock.js';
import { registerConnectApp } from '../../src/app/detection/register-app.js';
import { schedulerTick } from '../../src/workers/scheduler.js';
import { generatePopulation } from '../../src/app/rollout/installations.js';
import { listRollouts } from '../../src/app/rollout/rollouts.js';
import {
  createHarness,
  localFetchPolicy,
  startLocalServer,
  type Harness,
  type LocalServer,
} from '../helpers/detection-harness.js';
import { createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';
import { promoteAndDrain } from '../rollout/helpers.js';

const descriptor = (url: string) =>
  JSON.stringify({
    key: 'e2e-app',
    name: 'E2E',
    baseUrl: 'https://e2e.example.com',
    authentication: { type: 'jwt' },
    scopes: ['READ'],
    modules: { generalPages: [{ key: 'p1', url, name: { value: 'P1' } }] },
  });

let h: Harness;
let server: LocalServer;
let rw: RolloutHarness;
let body = descriptor('/p1');

beforeEach(async () => {
  server = await startLocalServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
  h = await createHarness({
    workers: true,
    fetchPolicy: localFetchPolicy(server.port),
    settings: { pollIntervalMs: 5 * HOUR },
  });
  // The rollout workers in a second context on the same Redis, prefix and clock, reading the
  // versions that the detection side stores.
  rw = await createRolloutHarness({ share: h, clock: h.clock, versions: h.ctx.versions });
});
afterEach(async () => {
  await rw.close();
  await h.close();
  await server.close();
});

it('descriptor change → version → plan → every installation upgraded within 33 h of the change', async () => {
  const queues = [h.ctx.queues.poll, h.ctx.queues.version, rw.ctx.queues.rollout, rw.ctx.queues.notify];
  const isApp = (e: { appId: string }) => e.appId === 'e2e-app';
  await registerConnectApp(h.ctx, 'e2e-app', server.url('/atlassian-connect.json'));
  const first = h.ctx.events.next('version:created', isApp);
  const firstPlanned = rw.ctx.events.next('rollout:planned', isApp);
  expect((await schedulerTick(h.ctx)).due).toBe(1);
  expect(await first).toMatchObject({ version: '1.0.0' });
  await firstPlanned;
  expect((await h.ctx.versions.listVersions('e2e-app')).map((v) => v.version)).toEqual(['1.0.0']);
  await generatePopulation(rw.ctx, { appId: 'e2e-app', count: 2000, seed: 4, version: '1.0.0' });

  h.clock.advance(HOUR);
  const changedAt = h.clock.now();
  body = descriptor('/p1-moved'); // a module change: micro, automatic
  // the scheduler polls every 5 h: advance hour by hour until the app's slot is due and polled
  const created = h.ctx.events.next('version:created', isApp);
  const planned = rw.ctx.events.next('rollout:planned', (e) => isApp(e) && e.version === '1.0.1');
  const polled = h.ctx.events.next('poll:polled', isApp);
  for (let i = 0; i < 5; i++) {
    h.clock.advance(HOUR);
    if ((await schedulerTick(h.ctx)).due > 0) break;
  }
  expect((await polled).outcome).toBe('changed');
  await created;
  const v = (await h.ctx.versions.listVersions('e2e-app')).at(-1)!;
  expect(v).toMatchObject({ version: '1.0.1', bump: 'micro', approval: 'automatic' });
  expect(v.detectedAt - changedAt).toBeLessThanOrEqual(5 * HOUR);
  await planned;
  expect((await listRollouts(rw.ctx, { appId: 'e2e-app' }))[0]).toMatchObject({
    version: '1.0.1',
    status: 'scheduled',
  });

  for (let i = 0; i < 30; i++) {
    h.clock.advance(HOUR);
    await promoteAndDrain(queues);
  }
  const r = (await listRollouts(rw.ctx, { appId: 'e2e-app' }))[0]!;
  expect(r.complete).toBe(true);
  let n = 0;
  for await (const [, hist] of rw.ctx.installs.scanHistory('e2e-app')) {
    const ups = hist.filter((e) => e.kind === 'upgraded');
    expect(ups).toHaveLength(1);
    // ≤ 33 h after the change (+1 h: the test's clock moves in 1-hour steps)
    expect(ups[0]!.at - changedAt).toBeLessThanOrEqual(33 * HOUR + HOUR);
    n++;
  }
  expect(n).toBe(2000);
});
