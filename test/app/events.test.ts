/**
 * Lifecycle events (src/app/events.ts), which tests await instead of sleeping: `next` resolves on
 * a matching event only, rejects after its timeout with a message naming the event, and leaves no
 * listener behind; `on` returns its unsubscribe; `listening` says whether anyone listens.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LifecycleEvents } from '../../src/app/events.js';

const applied = (appId: string, moved: number) => ({ appId, version: '1.0.1', moved, progressPercent: 50 });

describe('LifecycleEvents', () => {
  let events: LifecycleEvents;
  beforeEach(() => {
    events = new LifecycleEvents();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('next resolves with the first event that matches, not with earlier ones', async () => {
    let settled = false;
    const p = events.next('rollout:batch:applied', (e) => e.appId === 'b').then((e) => ((settled = true), e));
    events.emit('rollout:batch:applied', applied('a', 1));
    events.emit('rollout:completed', { appId: 'b', version: '1.0.1' }); // another event, same app
    await Promise.resolve();
    expect(settled).toBe(false);
    events.emit('rollout:batch:applied', applied('b', 2));
    events.emit('rollout:batch:applied', applied('b', 3));
    expect(await p).toEqual(applied('b', 2));
  });

  it('next without a matcher resolves with the next event of that name', async () => {
    const p = events.next('version:created');
    events.emit('version:created', { appId: 'x', version: '1.0.0', bump: 'initial', approval: 'automatic' });
    expect(await p).toMatchObject({ appId: 'x', version: '1.0.0' });
  });

  it('next rejects after its timeout with a message naming the event, and stops listening', async () => {
    vi.useFakeTimers();
    const p = events.next('rollout:completed', (e) => e.appId === 'never', 5_000);
    const rejected = expect(p).rejects.toThrow("no 'rollout:completed' event matched within 5000 ms");
    events.emit('rollout:completed', { appId: 'other', version: '1.0.0' });
    vi.advanceTimersByTime(4_999);
    expect(events.listening('rollout:completed')).toBe(true);
    vi.advanceTimersByTime(1);
    await rejected;
    expect(events.listening('rollout:completed')).toBe(false);
    // a match after the timeout changes nothing
    events.emit('rollout:completed', { appId: 'never', version: '1.0.0' });
    await expect(p).rejects.toThrow(/rollout:completed/);
  });

  it('a resolved next stops listening and clears its timer', async () => {
    vi.useFakeTimers();
    const p = events.next('notify:sent');
    expect(events.listening('notify:sent')).toBe(true);
    events.emit('notify:sent', { appId: 'm', version: '1.1.0', notified: 2 });
    expect(await p).toEqual({ appId: 'm', version: '1.1.0', notified: 2 });
    expect(events.listening('notify:sent')).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('on delivers every event to each listener until its unsubscribe is called; listening follows', () => {
    expect(events.listening('poll:polled')).toBe(false);
    const a: string[] = [];
    const b: string[] = [];
    const offA = events.on('poll:polled', (e) => void a.push(e.outcome));
    const offB = events.on('poll:polled', (e) => void b.push(e.outcome));
    expect(events.listening('poll:polled')).toBe(true);
    expect(events.listening('version:created')).toBe(false);
    events.emit('poll:polled', { appId: 'p', outcome: 'changed', at: 1 });
    offA();
    events.emit('poll:polled', { appId: 'p', outcome: 'unchanged', at: 2 });
    expect(a).toEqual(['changed']);
    expect(b).toEqual(['changed', 'unchanged']);
    offB();
    expect(events.listening('poll:polled')).toBe(false);
    // emitting with nobody listening is a no-op
    expect(() => events.emit('poll:polled', { appId: 'p', outcome: 'failed', at: 3 })).not.toThrow();
    expect(b).toHaveLength(2);
  });
});
