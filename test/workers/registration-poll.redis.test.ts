/**
 * A new app's first polls with several daemons (three contexts on one Redis prefix, each ticking
 * on one ManualClock, on a one-hour interval): registration polls at the next tick, and that poll
 * is the poll of the slot it falls in; the app's next slot, when it starts soon after, is not a
 * second poll right after it (`nextPollDueAt`). Every app: at most one poll per slot, polls never
 * less than half an interval apart, never more than an interval (plus a tick) apart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerConnectApp } from '../../src/app/detection/register-app.js';
import { MINUTE, HOUR } from '../../src/lib/clock.js';
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

const INTERVAL = HOUR;
const TICK = 2 * MINUTE;
const descriptor = (key: string) =>
  JSON.stringify({ key, baseUrl: 'https://example.com', authentication: { type: 'jwt' }, modules: {} });

describe('registration poll with three daemons', () => {
  let server: LocalServer;
  const daemons: Harness[] = [];

  beforeAll(async () => {
    server = await startLocalServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(descriptor((req.url ?? '/').slice(1)));
    });
    const settings = { pollIntervalMs: INTERVAL, pollBatchSize: 4 };
    const first = await createHarness({ workers: true, settings, fetchPolicy: localFetchPolicy(server.port) });
    daemons.push(first);
    for (let i = 0; i < 2; i++) {
      daemons.push(
        await createHarness({
          prefix: first.prefix,
          clock: first.clock,
          cleanup: false,
          workers: true,
          settings,
          fetchPolicy: localFetchPolicy(server.port),
        }),
      );
    }
  });
  afterAll(async () => {
    for (const d of daemons.splice(0).reverse()) await d.close();
    await server.close();
  });

  it('polls a new app at once, then each slot once, no two polls less than half an interval apart', async () => {
    const clock = daemons[0]!.clock;
    clock.set(T0 + 7 * MINUTE);
    const polls = new Map<string, number[]>();
    for (const d of daemons) {
      d.ctx.events.on('poll:polled', (e) => void polls.set(e.appId, [...(polls.get(e.appId) ?? []), e.at]));
    }
    // Three waves of 15 apps, each registered through another daemon, at uneven times.
    const registeredAt = new Map<string, number>();
    const waves = new Map([
      [0, 0],
      [8, 1],
      [19, 2],
    ]); // tick number → daemon
    const end = T0 + 3 * INTERVAL;
    for (let n = 0; clock.now() < end; n++, clock.advance(TICK)) {
      const wave = waves.get(n);
      if (wave !== undefined) {
        for (let i = 0; i < 15; i++) {
          const id = `reg-${n}-${i}`;
          await registerConnectApp(daemons[wave]!.ctx, id, server.url(`/${id}`));
          registeredAt.set(id, clock.now());
        }
      }
      for (const d of daemons) await schedulerTick(d.ctx);
      for (const d of daemons) await d.drain();
    }

    expect(polls.size).toBe(registeredAt.size);
    let soonAfter = 0;
    for (const [id, at] of registeredAt) {
      const times = polls.get(id)!;
      // The first version does not wait for the app's slot: polled in the registration's tick.
      expect(times[0], id).toBe(at);
      const slots = times.map((t) => pollSlot(id, t, INTERVAL).slot);
      expect(new Set(slots).size, `${id}: one poll per slot`).toBe(slots.length);
      for (let i = 1; i < times.length; i++) {
        const gap = times[i]! - times[i - 1]!;
        expect(gap, `${id}: gap ${i}`).toBeGreaterThanOrEqual(INTERVAL / 2);
        expect(gap, `${id}: gap ${i}`).toBeLessThanOrEqual(INTERVAL + TICK);
      }
      // Polled until the end: no gap at the end longer than an interval either.
      expect(end - times.at(-1)!, id).toBeLessThanOrEqual(INTERVAL + TICK);
      if (pollSlot(id, at, INTERVAL).nextDueAt - at < INTERVAL / 2) soonAfter++;
    }
    // The case of the rule: apps whose next slot started less than half an interval after registration.
    expect(soonAfter).toBeGreaterThan(5);
  }, 120_000);

  it('nextPollDueAt: on time, the next slot start; late, never sooner than half an interval; always the next slot', () => {
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      const start = pollSlot(id, T0, INTERVAL).dueAt;
      expect(nextPollDueAt(id, start, INTERVAL)).toBe(start + INTERVAL);
      for (const late of [1, INTERVAL / 4, INTERVAL / 2, INTERVAL - 1]) {
        const next = nextPollDueAt(id, start + late, INTERVAL);
        expect(next).toBe(Math.max(start + INTERVAL, start + late + INTERVAL / 2));
        expect(pollSlot(id, next, INTERVAL).slot).toBe(pollSlot(id, start, INTERVAL).slot + 1);
        // …and the poll after it is back on the slot start, within an interval.
        const after = nextPollDueAt(id, next, INTERVAL);
        expect(after).toBe(start + 2 * INTERVAL);
        expect(after - next).toBeLessThanOrEqual(INTERVAL);
      }
    }
  });

  it('registering again (a race, a retry) never moves the scheduled poll back', async () => {
    const d = daemons[0]!;
    const id = 'reg-again';
    await registerConnectApp(d.ctx, id, server.url(`/${id}`));
    await schedulerTick(d.ctx);
    const next = await d.ctx.schedule.nextDue(id);
    expect(next).toBeGreaterThan(d.clock.now());
    await expect(registerConnectApp(d.ctx, id, server.url(`/${id}`))).rejects.toMatchObject({ code: 'app-conflict' });
    await d.ctx.schedule.scheduleIfAbsent(id, d.clock.now());
    expect(await d.ctx.schedule.nextDue(id)).toBe(next);
    await d.drain();
  });
});
