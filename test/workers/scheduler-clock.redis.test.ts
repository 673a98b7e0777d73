/**
 * The poll scheduler when the clock goes backwards (an NTP step, a VM resumed, a daemon whose
 * clock lags another's), as graphile-worker's "doesn't schedule tasks twice when system clock
 * reverses": an app is never enqueued twice for the same slot, its next due time never moves back
 * (ZADD XX GT in `schedulerTick`), and when the clock comes forward again each app is polled once
 * per slot. Time is a ManualClock; polls are awaited through `poll:polled` events.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerConnectApp } from '../../src/app/detection/register-app.js';
import { POLL_BATCH_JOB_NAME, type PollBatchJob } from '../../src/jobs/queues.js';
import { HOUR } from '../../src/lib/clock.js';
import { nextPollDueAt, pollSlot } from '../../src/poller/poll-schedule.js';
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
const APPS = Array.from({ length: 10 }, (_, i) => `clock-app-${i}`);

const descriptor = (key: string) =>
  JSON.stringify({
    key,
    baseUrl: 'https://example.com',
    authentication: { type: 'jwt' },
    scopes: ['READ'],
    modules: {},
  });

describe('scheduler when the clock goes backwards', () => {
  let server: LocalServer;
  const harnesses: Harness[] = [];

  beforeEach(async () => {
    server = await startLocalServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(descriptor((req.url ?? '/').slice(1)));
    });
  });
  afterEach(async () => {
    for (const h of harnesses.splice(0).reverse()) await h.close();
    await server.close();
  });

  /** A detection harness; small chunks so that a tick enqueues several poll jobs. */
  const harness = async (opts: Parameters<typeof createHarness>[0] = {}) => {
    const settings = { pollIntervalMs: INTERVAL, pollBatchSize: 3 };
    const h = await createHarness({ fetchPolicy: localFetchPolicy(server.port), ...opts, settings });
    harnesses.push(h);
    return h;
  };
  const register = async (h: Harness) => {
    for (const id of APPS) await registerConnectApp(h.ctx, id, server.url(`/${id}`));
  };
  /** Every (app, slot) pair in the poll queue's chunk jobs, whatever their state, sorted. */
  const enqueued = async (h: Harness): Promise<string[]> => {
    const jobs = await h.ctx.queues.poll.getJobs([
      'waiting',
      'active',
      'delayed',
      'prioritized',
      'completed',
      'failed',
    ]);
    return jobs
      .filter((j) => j.name === POLL_BATCH_JOB_NAME)
      .flatMap((j) => (j.data as PollBatchJob).polls.map((p) => `${p.appId}@${p.slot}`))
      .sort();
  };
  const nextDues = async (h: Harness): Promise<Map<string, number>> =>
    new Map(await Promise.all(APPS.map(async (id) => [id, (await h.ctx.schedule.nextDue(id))!] as const)));
  /** Resolves when each of `APPS` has been polled (once more); listen before the tick. */
  const pollsOfAll = (h: Harness): Promise<unknown> =>
    Promise.all(APPS.map((id) => h.ctx.events.next('poll:polled', (e) => e.appId === id, 15_000)));
  const slotsAt = (t: number) => APPS.map((id) => `${id}@${pollSlot(id, t, INTERVAL).slot}`);

  it("doesn't enqueue an app twice for a slot or move it back when the clock reverses; polls once per slot after", async () => {
    const h = await harness({ workers: true });
    await register(h);
    const polls = new Map<string, number>();
    h.ctx.events.on('poll:polled', (e) => void polls.set(e.appId, (polls.get(e.appId) ?? 0) + 1));
    let last = new Map<string, number>();
    /** One tick; every app's next due time is checked not to have decreased. */
    const tick = async (): Promise<number> => {
      const { due } = await schedulerTick(h.ctx);
      const now = await nextDues(h);
      for (const id of APPS) expect(now.get(id), id).toBeGreaterThanOrEqual(last.get(id) ?? -Infinity);
      last = now;
      return due;
    };

    const T = T0 + 2 * HOUR;
    h.clock.set(T);
    let polled = pollsOfAll(h);
    expect(await tick()).toBe(APPS.length);
    await polled;
    const first = await nextDues(h);
    for (const id of APPS) expect(first.get(id)).toBe(nextPollDueAt(id, T, INTERVAL));

    // Back an hour, then a whole poll interval more: nothing is due again.
    h.clock.advance(-HOUR);
    expect(await tick()).toBe(0);
    h.clock.advance(-INTERVAL);
    expect(await tick()).toBe(0);
    expect(await nextDues(h)).toEqual(first);
    // Forward to T again, and just before the apps' next slots: still nothing.
    h.clock.set(T);
    expect(await tick()).toBe(0);
    h.clock.set(Math.min(...first.values()) - 1);
    expect(await tick()).toBe(0);
    // The first polls are named by the apps' registration entries (due at T0): their slots.
    expect(await enqueued(h)).toEqual(slotsAt(T0).sort());
    expect(Object.fromEntries(polls)).toEqual(Object.fromEntries(APPS.map((id) => [id, 1])));

    // Forward one interval: each app's next slot has started; it is enqueued and polled once.
    polled = pollsOfAll(h);
    h.clock.set(T + INTERVAL);
    expect(await tick()).toBe(APPS.length);
    expect(await tick()).toBe(0); // a second tick in the same slot enqueues nothing
    await polled;
    // Back an interval once more, then forward: the slots already enqueued stay once.
    h.clock.advance(-INTERVAL);
    expect(await tick()).toBe(0);
    h.clock.set(T + INTERVAL);
    expect(await tick()).toBe(0);

    const pairs = await enqueued(h);
    expect(pairs).toEqual([...slotsAt(T0), ...slotsAt(T + INTERVAL)].sort());
    expect(new Set(pairs).size).toBe(pairs.length);
    expect(Object.fromEntries(polls)).toEqual(Object.fromEntries(APPS.map((id) => [id, 2])));
  });

  it('a daemon whose clock lags an interval behind, ticking across a faster one, does not move apps back', async () => {
    const ahead = await harness();
    const T = T0 + 2 * HOUR;
    ahead.clock.set(T + INTERVAL);
    const behind = await harness({ prefix: ahead.prefix, cleanup: false });
    behind.clock.set(T);
    await register(behind);
    // The lagging daemon reads the due apps; the faster one ticks before the lagging one writes.
    const readDue = behind.ctx.schedule.due.bind(behind.ctx.schedule);
    let raced = false;
    behind.ctx.schedule.due = async (now, limit) => {
      const due = await readDue(now, limit);
      if (!raced) {
        raced = true;
        expect(await schedulerTick(ahead.ctx)).toEqual({ due: APPS.length });
      }
      return due;
    };
    const afterAhead = new Map(APPS.map((id) => [id, nextPollDueAt(id, T + INTERVAL, INTERVAL)]));
    expect(await schedulerTick(behind.ctx)).toEqual({ due: APPS.length });
    // The lagging tick wrote earlier next-due times: GT kept the faster daemon's.
    expect(await nextDues(behind)).toEqual(afterAhead);
    // Each app once: both daemons name the poll by the entry they read (registered at T), not
    // by their own times, so they enqueue the same chunks (schedule-polls.ts).
    const pairs = await enqueued(ahead);
    expect(pairs).toEqual(slotsAt(T).sort());
    expect(new Set(pairs).size).toBe(pairs.length);
    // Once the lagging clock catches up, nothing is due before the faster daemon's next slots.
    behind.clock.set(T + INTERVAL);
    expect(await schedulerTick(behind.ctx)).toEqual({ due: 0 });
    expect(await nextDues(behind)).toEqual(afterAhead);
  });
});
