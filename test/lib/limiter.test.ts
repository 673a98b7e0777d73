/**
 * The poll limiter (poller/limiter.ts): at most `max` tasks at once, FIFO, a waiting task
 * abandoned by its signal never runs, and `inUse` counts the places taken (the
 * `mpu_poll_fetches_in_flight` gauge).
 */
import { describe, expect, it } from 'vitest';
import { createLimiter } from '../../src/lib/limiter.js';

/** A task that settles when told to. */
function gate(): { task: () => Promise<void>; open(): void; started: boolean } {
  let open!: () => void;
  const g = {
    started: false,
    task: () => {
      g.started = true;
      return new Promise<void>((r) => (open = r));
    },
    open: () => open(),
  };
  return g;
}
const tick = () => new Promise((r) => setImmediate(r));

describe('limiter', () => {
  it('runs at most max tasks at once, in order, and counts the places taken', async () => {
    const limiter = createLimiter(2);
    const gates = [gate(), gate(), gate()];
    const runs = gates.map((g) => limiter.run(g.task));
    await tick();
    expect(gates.map((g) => g.started)).toEqual([true, true, false]);
    expect(limiter.inUse()).toBe(2);
    gates[1]!.open();
    await tick();
    expect(gates[2]!.started).toBe(true);
    expect(limiter.inUse()).toBe(2);
    gates[0]!.open();
    gates[2]!.open();
    await Promise.all(runs);
    expect(limiter.inUse()).toBe(0);
  });

  it('a task aborted while it waits never runs and gives no place away', async () => {
    const limiter = createLimiter(1);
    const first = gate();
    const running = limiter.run(first.task);
    const abort = new AbortController();
    const waiting = gate();
    const aborted = limiter.run(waiting.task, abort.signal);
    abort.abort(new Error('closing'));
    await expect(aborted).rejects.toThrow('closing');
    first.open();
    await running;
    expect(waiting.started).toBe(false);
    expect(limiter.inUse()).toBe(0);
  });

  it('a failing task (rejected or thrown) gives its place to the next waiter, in FIFO order', async () => {
    const limiter = createLimiter(1);
    const order: number[] = [];
    const first = gate();
    const runs: Promise<unknown>[] = [limiter.run(first.task)];
    runs.push(limiter.run(() => Promise.reject(new Error('rejected'))));
    runs.push(
      limiter.run(() => {
        throw new Error('thrown');
      }),
    );
    for (let i = 0; i < 5; i++) runs.push(limiter.run(async () => void order.push(i)));
    first.open();
    const settled = await Promise.allSettled(runs);
    expect(settled.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    expect((settled[2] as PromiseRejectedResult).reason).toMatchObject({ message: 'thrown' });
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(limiter.inUse()).toBe(0);
  });

  it('an already aborted signal refuses at once; an abort after the task started changes nothing', async () => {
    const limiter = createLimiter(1);
    const aborted = AbortSignal.abort(new Error('closed'));
    const never = gate();
    await expect(limiter.run(never.task, aborted)).rejects.toThrow('closed');
    expect(never.started).toBe(false);
    expect(limiter.inUse()).toBe(0);
    const abort = new AbortController();
    const g = gate();
    const run = limiter.run(async () => {
      await g.task();
      return 'done';
    }, abort.signal);
    await tick();
    abort.abort(new Error('late'));
    g.open();
    await expect(run).resolves.toBe('done');
    expect(limiter.inUse()).toBe(0);
  });

  it('refuses a size that is not a positive integer', () => {
    expect(() => createLimiter(0)).toThrow(RangeError);
    expect(() => createLimiter(1.5)).toThrow(RangeError);
  });
});
