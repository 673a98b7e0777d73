/**
 * Two daemons' scheduler ticks racing across an app's slot boundary right after its registration
 * (the interleaving the three-daemon test met on the cluster pass): daemon A reads the new app as
 * due just before its next slot starts; before A moves it on, daemon B's tick, just after that
 * slot started, reads the same schedule entry. Both enqueue the app's poll; it must be one poll
 * (same slot, so the same claim), not one poll of each slot a minute apart. Real Redis (one
 * server, or the cluster of the cluster pass), a ManualClock shared by both daemons, polls counted
 * at the descriptor server.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerConnectApp } from '../../src/app/detection/register-app.js';
import { POLL_BATCH_JOB_NAME, type PollBatchJob } from '../../src/jobs/queues.js';
import { HOUR, MINUTE } from '../../src/lib/clock.js';
import { pollSlot } from '../../src/poller/poll-schedule.js';
import { schedulerTick } from '../../src/workers/scheduler.js';
import {
  T0,
  createHarness,
  localFetchPolicy,
  startLocalServer,
  type Harness,
  type LocalServer,
} from '../helpers/detection-harness.js';

const INTERVAL = 5 * HOUR;
const descriptor = (key: string) =>
  JSON.stringify({ key, baseUrl: 'https://example.com', authentication: { type: 'jwt' }, modules: {} });

describe('scheduler ticks of two daemons racing across a slot boundary', () => {
  let server: LocalServer;
  const daemons: Harness[] = [];
  /** Every descriptor request: app and (manual) time. */
  const requests: { app: string; at: number }[] = [];

  beforeEach(async () => {
    requests.length = 0;
    server = await startLocalServer((req, res) => {
      const app = (req.url ?? '/').slice(1);
      requests.push({ app, at: daemons[0]!.clock.now() });
      res.writeHead(200, { 'content-type': 'application/json' }).end(descriptor(app));
    });
    const settings = { pollIntervalMs: INTERVAL };
    const a = await createHarness({ workers: true, settings, fetchPolicy: localFetchPolicy(server.port) });
    const b = await createHarness({
      prefix: a.prefix,
      clock: a.clock,
      cleanup: false,
      workers: true,
      settings,
      fetchPolicy: localFetchPolicy(server.port),
    });
    daemons.push(a, b);
  });
  afterEach(async () => {
    for (const d of daemons.splice(0).reverse()) await d.close();
    await server.close();
  });

  const pollsOf = (id: string) => requests.filter((r) => r.app === id).map((r) => r.at);

  it('a new app read as due by both, each side of its slot boundary, is polled once; then once per slot', async () => {
    const [a, b] = [daemons[0]!, daemons[1]!];
    const clock = a.clock;
    const id = 'race-app';
    // Registered two minutes before its next slot starts.
    const boundary = pollSlot(id, T0, INTERVAL).nextDueAt;
    clock.set(boundary - 2 * MINUTE);
    await registerConnectApp(a.ctx, id, server.url(`/${id}`));

    // A ticks a minute before the boundary and enqueues the app's poll, which runs; before A
    // moves the app to its next slot, another app is registered and B ticks a minute after the
    // boundary, reading the app's registration entry still.
    const enqueuedBy: { daemon: string; polls: PollBatchJob['polls'] }[] = [];
    const record = (daemon: string, d: Harness) => {
      const enqueue = d.ctx.enqueuePollBatches.bind(d.ctx);
      d.ctx.enqueuePollBatches = async (jobs) => {
        enqueuedBy.push(...jobs.map((j) => ({ daemon, polls: j.polls })));
        await enqueue(jobs);
      };
    };
    record('A', a);
    record('B', b);
    const reschedule = a.ctx.schedule.rescheduleMany.bind(a.ctx.schedule);
    a.ctx.schedule.rescheduleMany = async (entries) => {
      a.ctx.schedule.rescheduleMany = reschedule;
      await a.drain();
      expect(pollsOf(id)).toHaveLength(1);
      clock.set(boundary + MINUTE);
      await registerConnectApp(b.ctx, 'late-app', server.url('/late-app'));
      expect(await schedulerTick(b.ctx)).toEqual({ due: 2 });
      await reschedule(entries);
    };
    clock.set(boundary - MINUTE);
    expect(await schedulerTick(a.ctx)).toEqual({ due: 1 });
    await a.drain();
    await b.drain();
    // Both daemons enqueued race-app (in chunks that differ: B's holds late-app too)…
    expect(enqueuedBy.map((e) => [e.daemon, e.polls.map((p) => p.appId)])).toEqual([
      ['A', [id]],
      ['B', [id, 'late-app']],
    ]);
    // …as one poll: fetched once, the same slot (claimed once).
    expect(pollsOf(id)).toHaveLength(1);
    const slots = new Set(enqueuedBy.flatMap((e) => e.polls.filter((p) => p.appId === id).map((p) => p.slot)));
    expect([...slots]).toEqual([pollSlot(id, boundary - 2 * MINUTE, INTERVAL).slot]);
    expect(pollsOf('late-app')).toHaveLength(1);
    const jobs = await a.ctx.queues.poll.getJobs(['completed', 'failed']);
    expect(jobs.filter((j) => j.name === POLL_BATCH_JOB_NAME)).toHaveLength(2);

    // Then, ticking every 10 minutes for three intervals: each poll half an interval to an
    // interval (and a tick) after the one before.
    const end = boundary + 3 * INTERVAL;
    while (clock.now() < end) {
      clock.advance(10 * MINUTE);
      await schedulerTick(a.ctx);
      await schedulerTick(b.ctx);
      await a.drain();
      await b.drain();
    }
    for (const app of [id, 'late-app']) {
      const at = pollsOf(app);
      expect(at.length, app).toBeGreaterThanOrEqual(3);
      for (let k = 1; k < at.length; k++) {
        const gap = at[k]! - at[k - 1]!;
        expect(gap, `${app}: gap ${k}`).toBeGreaterThanOrEqual(INTERVAL / 2);
        expect(gap, `${app}: gap ${k}`).toBeLessThanOrEqual(INTERVAL + 10 * MINUTE);
      }
    }
  });
});
