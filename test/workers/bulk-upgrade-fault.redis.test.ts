/**
 * Fault: a worker process SIGKILLed in the middle of a bulk upgrade of a few thousand
 * installations, then a fresh one started: every installation on the source major is moved
 * exactly once (one bulk move in its history, counted once), the others it had to skip are
 * counted once as failed, and the record's counters add up. The worker children are those of
 * upgrade-fault.redis.test.ts (fixtures/rollout-worker-child.ts), with small batches and a rate
 * limit so that the kill lands midway.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { listBulkUpgrades, startBulkUpgrade, type BulkUpgradeView } from '../../src/app/rollout/bulk-upgrades.js';
import { generatePopulation } from '../../src/app/rollout/installations.js';
import { systemClock } from '../../src/lib/clock.js';
import { createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';
import { TEST_REDIS_ENV } from '../helpers/redis.js';
import { WorkerChildren } from './fixtures/worker-children.js';
import { baseForge, forge } from '../versioning/helpers.js';

const APP = 'ari:cloud:ecosystem::app/99999999-2222-3333-4444-555555555555';
/** Installations on the source major; of them, APPROVED were approved past the target. */
const N = 4000;
const APPROVED = 100;
/** Installations on another major: not in the bulk upgrade at all. */
const OTHERS = 200;
const BATCH = 40;
let h: RolloutHarness<typeof systemClock>;
const children = new WorkerChildren();

function startChild() {
  return children.start({
    MPU_TEST_PREFIX: h.prefix,
    ...TEST_REDIS_ENV,
    // The bulk upgrade reads no version: it carries its target in its record.
    MPU_TEST_VERSIONS: '[]',
    MPU_TEST_BATCH_SIZE: String(BATCH),
    // About 2.5 s for the 100 batches: the kill lands midway.
    MPU_TEST_MAX_BATCHES_PER_SECOND: '40',
  });
}

/** Installations on the target version, as the distribution counts them. */
async function onTarget(): Promise<number> {
  return Number((await h.connection.hget(h.ctx.keys.versionDistribution(APP), '3.0.0')) ?? 0);
}

beforeAll(async () => {
  // No workers here: the children run them. Both sides read the system clock (two processes).
  h = await createRolloutHarness({ clock: systemClock, workers: false });
  await h.ctx.apps.addForgeApp({ ari: APP, now: h.clock.now() });
  for (const [version, bump] of [
    ['2.0.0', 'initial'],
    ['3.0.0', 'major'],
  ] as const) {
    const hash = await h.ctx.descriptors.saveDescriptor(APP, forge(baseForge));
    h.versions.add({
      appId: APP,
      kind: 'forge',
      version,
      bump,
      approval: 'automatic',
      descriptorHash: hash,
      detectedAt: h.clock.now(),
    });
  }
  await generatePopulation(h.ctx, { appId: APP, count: N, seed: 5, version: '2.0.0', maintenanceWindows: false });
  await generatePopulation(h.ctx, { appId: APP, count: OTHERS, seed: 6, version: '1.4.0', maintenanceWindows: false });
  const approved = (await h.ctx.installs.list(APP, 0, APPROVED)).map((i) => i.id);
  await h.connection.hset(h.ctx.keys.installationApproved(APP), ...approved.flatMap((id) => [id, '4.0.0']));
});

afterAll(async () => {
  await children.close();
  await h.close();
});

it('SIGKILL midway through a bulk upgrade of 4,000, restart: each installation moved or skipped exactly once', async () => {
  const first = await startChild();
  let movedSeen = 0;
  const midway = children.events.next(
    'bulk:batch:applied',
    (e) => e.appId === APP && (movedSeen += e.moved) >= N / 4,
    20_000,
  );
  const b = (await startBulkUpgrade(h.ctx, {
    appId: APP,
    environment: 'production',
    from: 2,
    to: 3,
    account: 'fault',
  })) as BulkUpgradeView;
  await midway;
  await children.kill(first);
  const atKill = await onTarget();
  expect(atKill).toBeGreaterThan(0);
  expect(atKill).toBeLessThan(N - APPROVED); // really midway
  // Proving that nothing happens takes time passing: no event marks an absence.
  await new Promise((r) => setTimeout(r, 300));
  expect(await onTarget()).toBe(atKill); // and really dead: nothing moves without a worker

  const finished = children.events.next('bulk:finished', (e) => e.bulkId === b.id, 25_000);
  const second = await startChild();
  await finished;
  second.removeAllListeners('exit');

  const moves = new Map<number, number>();
  for (const [id, history] of await h.histories(APP)) {
    const bulk = history.filter((e) => e.kind === 'upgraded' && e.bulkUpgradeId === b.id);
    moves.set(bulk.length, (moves.get(bulk.length) ?? 0) + 1);
    if (bulk.length) expect(bulk[0], id).toMatchObject({ from: '2.0.0', to: '3.0.0', cause: 'bulk' });
  }
  // Moved once each; never twice; the approved and the other major's never.
  expect(Object.fromEntries(moves)).toEqual({ 0: APPROVED + OTHERS, 1: N - APPROVED });
  expect(await h.ctx.installs.distribution(APP)).toEqual({
    '1.4.0': OTHERS,
    '2.0.0': APPROVED,
    '3.0.0': N - APPROVED,
  });
  const [view] = (await listBulkUpgrades(h.ctx, APP)).bulkUpgrades;
  expect(view).toMatchObject({
    id: b.id,
    status: 'completed',
    total: N,
    completed: N - APPROVED,
    failed: APPROVED,
    pending: 0,
    failures: { 'approved-past-target': APPROVED },
  });
  const outcomes = await h.connection.hgetall(h.ctx.keys.bulkUpgradeOutcomes(APP, b.id));
  const tally = new Map<string, number>();
  for (const o of Object.values(outcomes)) tally.set(o, (tally.get(o) ?? 0) + 1);
  expect(Object.fromEntries(tally)).toEqual({ moved: N - APPROVED, 'approved-past-target': APPROVED });
}, 60_000);
