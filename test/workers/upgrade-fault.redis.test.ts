/**
 * Fault: a worker process SIGKILLed in the middle of a rollout of 100,000 installations, then a
 * new one started: every installation is upgraded exactly once (counted from history events).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { createTestContext as createRolloutContext } from '../helpers/context.js';
import type { Runtime as RolloutContext } from '../../src/runtime.js';
import { generatePopulation } from '../../src/app/rollout/installations.js';
import { PLAN_ROLLOUT_JOB_NAME, QueueName, planRolloutJobId } from '../../src/jobs/queues.js';
import { TEST_REDIS_URL, connectTestRedis, deleteKeysWithPrefix, testPrefix } from '../helpers/redis.js';
import { MemoryVersions } from '../rollout/helpers.js';

const N = 100_000;
const CHILD = fileURLToPath(new URL('./fixtures/rollout-worker-child.ts', import.meta.url));
// `node --import tsx` runs the child in ONE process: the tsx CLI would fork a grandchild that a
// SIGKILL of the CLI leaves running, and the test would then not kill the worker at all.
const TSX_LOADER = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;

let redis: Redis;
let prefix: string;
let ctx: RolloutContext;
const children: ChildProcess[] = [];

function startChild(versions: unknown): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CHILD], {
    env: { ...process.env, MPU_TEST_PREFIX: prefix, REDIS_URL: TEST_REDIS_URL, MPU_TEST_VERSIONS: JSON.stringify(versions) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker child exited early (${code})`)));
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
  });
}

async function upgraded(): Promise<number> {
  return Number((await redis.hget(ctx.keys.versionDistribution('fault'), '2.1.0')) ?? 0);
}

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  redis = await connectTestRedis();
  prefix = testPrefix();
  ctx = createRolloutContext({ connection: redis, clock: systemClock, logger: silentLogger, prefix, versions: new MemoryVersions() });
  await generatePopulation(ctx, { appId: 'fault', count: N, seed: 9, version: '2.0.0', maintenanceWindows: false });
});

afterAll(async () => {
  for (const c of children) {
    c.removeAllListeners('exit');
    c.stdout?.destroy();
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    }
  }
  await ctx.close();
  const q = new Queue(QueueName.rollout, { connection: redis, prefix });
  await q.obliterate({ force: true }).catch(() => {});
  await q.close();
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

it('SIGKILL mid-rollout of 100,000, restart: every installation upgraded exactly once', async () => {
  const now = Date.now();
  const versions = [
    { appId: 'fault', kind: 'forge', version: '2.0.0', bump: 'initial', approval: 'automatic', reasons: [], warnings: [], descriptorHash: 'sha256:0', source: 'cli', detectedAt: now - 86_400_000 },
    { appId: 'fault', kind: 'forge', version: '2.1.0', bump: 'minor', approval: 'automatic', reasons: [], warnings: [], descriptorHash: 'sha256:0', source: 'cli', detectedAt: now },
  ];
  const first = await startChild(versions);
  await ctx.queues.rollout.add(PLAN_ROLLOUT_JOB_NAME, { v: 1, appId: 'fault', version: '2.1.0' }, { jobId: planRolloutJobId({ v: 1, appId: 'fault', version: '2.1.0' }) });
  await waitFor(async () => (await upgraded()) >= N * 0.15, 20_000);
  first.removeAllListeners('exit');
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  const atKill = await upgraded();
  expect(atKill).toBeLessThan(N); // really mid-rollout
  await new Promise((r) => setTimeout(r, 300));
  expect(await upgraded()).toBe(atKill); // and really dead: nothing moves without a worker

  const second = await startChild(versions);
  await waitFor(async () => (await upgraded()) >= N, 25_000);
  second.removeAllListeners('exit');

  let installations = 0;
  let events = 0;
  const counts = new Map<number, number>();
  for await (const [, history] of ctx.installs.scanHistory('fault')) {
    installations++;
    const ups = history.filter((e) => e.kind === 'upgraded' && e.to === '2.1.0').length;
    events += ups;
    counts.set(ups, (counts.get(ups) ?? 0) + 1);
  }
  expect(installations).toBe(N);
  expect(Object.fromEntries(counts)).toEqual({ 1: N });
  expect(events).toBe(N);
  expect(await ctx.installs.distribution('fault')).toEqual({ '2.1.0': N });
}, 60_000);
