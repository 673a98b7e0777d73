/**
 * Chunked polls (queues.ts PollBatchJob, poller/poll-batch.ts) keep the guarantees of one job per
 * app: each app's slot is claimed on its record, so two daemons' overlapping chunks poll it once
 * and version each change once; a redelivered chunk polls only what it had not done; a failed
 * poll is recorded and retried on its own with the claim; an old slot's chunk polls nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOUR } from '../../src/lib/clock.js';
import { createLimiter } from '../../src/lib/limiter.js';
import { pollBatch, type PollBatchDeps, type ScheduledPoll } from '../../src/app/detection/poll-batch.js';
import { pollSlot } from '../../src/poller/poll-schedule.js';
import { registerConnectApp } from '../../src/app/detection/register-app.js';
import { POLL_BATCH_JOB_NAME, pollBatchJobId, pollJobId, type PollBatchJob } from '../../src/jobs/queues.js';
import { schedulerTick } from '../../src/workers/scheduler.js';
import { startDetectionWorkers } from '../../src/workers/start-workers.js';
import {
  createHarness,
  localFetchPolicy,
  startLocalServer,
  type Harness,
  type LocalServer,
} from '../helpers/detection-harness.js';

const descriptor = (key: string, rev: number) =>
  JSON.stringify({
    key,
    baseUrl: 'https://example.com',
    authentication: { type: 'jwt' },
    scopes: ['READ'],
    modules: { generalPages: [{ key: `p${rev}`, name: { value: `rev ${rev}` }, url: '/p' }] },
  });

describe('chunked polls', () => {
  let server: LocalServer;
  let rev = 0;
  /** Requests per app id. */
  const hits = new Map<string, number>();
  /** App ids that answer 500 for their next N requests. */
  const failNext = new Map<string, number>();
  const harnesses: Harness[] = [];

  /** Called on every request the server answers. */
  let onHit: () => void;

  beforeEach(async () => {
    onHit = () => {};
    hits.clear();
    failNext.clear();
    rev = 0;
    server = await startLocalServer((req, res) => {
      const key = (req.url ?? '/').slice(1);
      hits.set(key, (hits.get(key) ?? 0) + 1);
      onHit();
      if (key.startsWith('slow-'))
        return void setTimeout(
          () => res.writeHead(200, { 'content-type': 'application/json' }).end(descriptor(key, rev)),
          150,
        );
      const n = failNext.get(key) ?? 0;
      if (n > 0) return void (failNext.set(key, n - 1), res.writeHead(500).end('boom'));
      res.writeHead(200, { 'content-type': 'application/json' }).end(descriptor(key, rev));
    });
  });
  afterEach(async () => {
    for (const h of harnesses.splice(0).reverse()) await h.close();
    await server.close();
  });

  const harness = async (opts: Parameters<typeof createHarness>[0] = {}) => {
    const h = await createHarness({
      fetchPolicy: localFetchPolicy(server.port),
      ...opts,
      settings: { pollIntervalMs: 5 * HOUR, ...opts.settings },
    });
    harnesses.push(h);
    return h;
  };
  const batchDeps = (h: Harness): PollBatchDeps => ({
    ...h.ctx,
    limiter: createLimiter(4),
    retryJobId: () => undefined,
    enqueueRetry: async () => {},
  });
  const scheduled = (h: Harness, ids: string[]): ScheduledPoll[] =>
    ids.map((appId) => ({ appId, slot: pollSlot(appId, h.clock.now(), h.ctx.settings.pollIntervalMs).slot }));

  it('two daemons with overlapping chunks (different job ids) poll each app once per slot and version it once', async () => {
    const a = await harness({ workers: true, settings: { pollBatchSize: 10 } });
    const b = await harness({
      prefix: a.prefix,
      clock: a.clock,
      workers: true,
      cleanup: false,
      settings: { pollBatchSize: 7 },
    });
    const ids = Array.from({ length: 30 }, (_, i) => `chunk-app-${i}`);
    for (const id of ids) await registerConnectApp(a.ctx, id, server.url(`/${id}`));
    for (let cycle = 0; cycle < 2; cycle++) {
      rev = cycle;
      // Both daemons tick with different chunk sizes, and a third chunk holds every app in reverse
      // order: every app is in at least two chunks with different ids.
      const reversed: PollBatchJob = { v: 1, polls: scheduled(a, [...ids].reverse()) };
      await b.ctx.queues.poll.add(POLL_BATCH_JOB_NAME, reversed, {
        ...b.ctx.pollBatchJobOptions(),
        jobId: pollBatchJobId(reversed),
      });
      await Promise.all([schedulerTick(a.ctx), schedulerTick(b.ctx)]);
      await Promise.all([a.drain(), b.drain()]);
      a.clock.advance(5 * HOUR);
    }
    for (const id of ids) {
      expect(hits.get(id), id).toBe(2);
      expect(
        (await a.ctx.versions.listVersions(id)).map((v) => v.version),
        id,
      ).toEqual(['1.0.0', '1.0.1']);
    }
    expect(await a.ctx.queues.poll.getJobCountByTypes('failed')).toBe(0);
  });

  it('a redelivered chunk (same job id) polls only what it had not done; another job is told taken', async () => {
    const h = await harness();
    const ids = ['redo-a', 'redo-b', 'redo-c'];
    for (const id of ids) await registerConnectApp(h.ctx, id, server.url(`/${id}`));
    const polls = scheduled(h, ids);
    const first = await pollBatch(batchDeps(h), polls.slice(0, 2), 'chunk-1');
    expect(first).toMatchObject({ polled: 2, changed: 2, skipped: 0 });
    // Redelivered with all three (as if it had stopped after two): only the third is polled.
    const again = await pollBatch(batchDeps(h), polls, 'chunk-1');
    expect(again).toMatchObject({ polled: 1, skipped: 2 });
    const other = await pollBatch(batchDeps(h), polls, 'chunk-2');
    expect(other).toMatchObject({ polled: 0, skipped: 3 });
    for (const id of ids) expect(hits.get(id), id).toBe(1);
    // An unknown app is reported, not polled.
    expect(await pollBatch(batchDeps(h), [{ appId: 'no-such-app', slot: polls[0]!.slot }], 'chunk-3')).toMatchObject({
      gone: 1,
      polled: 0,
    });
  });

  it('a chunk of an older slot polls nothing once a later slot was claimed', async () => {
    const h = await harness();
    await registerConnectApp(h.ctx, 'stale-app', server.url('/stale-app'));
    const [now] = scheduled(h, ['stale-app']);
    await pollBatch(batchDeps(h), [{ appId: 'stale-app', slot: now!.slot + 1 }], 'later');
    expect(await pollBatch(batchDeps(h), [now!], 'earlier')).toMatchObject({ polled: 0, skipped: 1 });
    expect(hits.get('stale-app')).toBe(1);
  });

  it('a failed poll is recorded on the app and retried on its own with backoff, holding the claim', async () => {
    const h = await harness({ workers: true, settings: { pollAttempts: 3, pollBackoffMs: 10 } });
    await registerConnectApp(h.ctx, 'flaky-app', server.url('/flaky-app'));
    await registerConnectApp(h.ctx, 'steady-app', server.url('/steady-app'));
    failNext.set('flaky-app', 2);
    await schedulerTick(h.ctx);
    await h.drain();
    expect(hits.get('flaky-app')).toBe(3); // the chunk's attempt, then two attempts of its retry job
    expect(hits.get('steady-app')).toBe(1);
    const app = await h.ctx.apps.requireApp('flaky-app');
    expect(app).toMatchObject({
      status: 'active',
      consecutiveFailures: 0,
      totalFailures: 2,
      lastPollOutcome: 'changed',
      pollClaim: '',
    });
    expect((await h.ctx.versions.listVersions('flaky-app')).map((v) => v.version)).toEqual(['1.0.0']);
    // The retry job held the slot: another daemon's chunk of the same slot polls nothing.
    const [poll] = scheduled(h, ['flaky-app']);
    const other = await pollBatch(
      { ...batchDeps(h), retryJobId: (p) => pollJobId(p), enqueueRetry: async () => {} },
      [poll!],
      'another-chunk',
    );
    expect(other).toMatchObject({ polled: 0, skipped: 1 });
    expect(hits.get('flaky-app')).toBe(3);
  });

  it('a claim handed to a retry that was never enqueued (crash in between) is re-enqueued by the redelivered chunk', async () => {
    const h = await harness({ workers: true, settings: { pollAttempts: 2, pollBackoffMs: 10 } });
    await registerConnectApp(h.ctx, 'lost-retry', server.url('/lost-retry'));
    const [poll] = scheduled(h, ['lost-retry']);
    const owner = pollBatchJobId({ v: 1, polls: [poll!] });
    // The chunk's attempt failed and handed the claim to the retry job, then the process died.
    await h.ctx.apps.claimPolls(owner, [poll!]);
    await h.ctx.apps.recordPollFailure(
      'lost-retry',
      { at: h.clock.now(), error: 'descriptor-fetch-failed: boom', httpStatus: 500 },
      { ...poll!, owner, handOffTo: pollJobId(poll!) },
    );
    const data: PollBatchJob = { v: 1, polls: [poll!] };
    await h.ctx.queues.poll.add(POLL_BATCH_JOB_NAME, data, { ...h.ctx.pollBatchJobOptions(), jobId: owner });
    await h.drain();
    expect(hits.get('lost-retry')).toBe(1); // polled once, by the retry job
    expect(await h.ctx.apps.requireApp('lost-retry')).toMatchObject({
      status: 'active',
      consecutiveFailures: 0,
      totalFailures: 1,
      pollClaim: '',
    });
  });

  it('on shutdown, the chunks in progress finish and the others stay in the queue; the next worker polls them once', async () => {
    // 5 chunks of 4 polls in progress at once (2 for the fetches in flight, 3 in their tails): a
    // worker takes no chunk it cannot start, so the other 7 stay in the queue.
    const h = await harness({ workers: true, settings: { pollBatchSize: 4, pollConcurrency: 8 } });
    const ids = Array.from({ length: 48 }, (_, i) => `slow-${i}`);
    for (const id of ids) await registerConnectApp(h.ctx, id, server.url(`/${id}`));
    const fetching = new Promise<void>((resolve) => (onHit = resolve));
    await schedulerTick(h.ctx);
    await fetching; // the first fetch reached the server: chunks are in progress
    await h.workers!.close();
    // Only the chunks in progress were finished (at most 5 × 4 polls); the waiting ones went back.
    expect(hits.size).toBeLessThanOrEqual(20);
    expect(await h.ctx.queues.poll.getJobCountByTypes('wait')).toBeGreaterThanOrEqual(4);
    expect(await h.ctx.queues.poll.getJobCountByTypes('failed')).toBe(0);
    const next = await startDetectionWorkers(h.ctx);
    try {
      await h.drain();
    } finally {
      await next.close();
    }
    for (const id of ids) expect(hits.get(id), id).toBe(1);
  });
});
