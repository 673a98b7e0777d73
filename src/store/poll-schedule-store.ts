/**
 * The poll schedule: a ZSET of Connect app ids scored by their next due time (keys.ts
 * `pollSchedule`). A scheduler tick reads the apps that are due and moves each to its next slot;
 * two daemons reading the same due apps enqueue the same job ids (a no-op), so sharing it is safe.
 */
import type { RedisConnection } from '../lib/redis-connection.js';
import type { Keys } from './keys.js';

/** Redis-backed poll schedule. */
export class PollScheduleStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: Keys,
  ) {}

  /** Schedules `appId` at `dueAt` (epoch ms), replacing any earlier entry. */
  async schedule(appId: string, dueAt: number): Promise<void> {
    await this.redis.zadd(this.keys.pollSchedule(), dueAt, appId);
  }

  /**
   * Schedules `appId` at `dueAt` (epoch ms) unless it is scheduled already (ZADD NX): a new app's
   * first poll, which must not move a due time a scheduler tick has set since.
   */
  async scheduleIfAbsent(appId: string, dueAt: number): Promise<void> {
    await this.redis.zadd(this.keys.pollSchedule(), 'NX', dueAt, appId);
  }

  /** Schedules many apps at once. */
  async scheduleMany(entries: { appId: string; dueAt: number }[]): Promise<void> {
    if (entries.length === 0) return;
    const args: (string | number)[] = [];
    for (const e of entries) args.push(e.dueAt, e.appId);
    await this.redis.zadd(this.keys.pollSchedule(), ...args);
  }

  /**
   * Moves `appId` forward to `dueAt` (ZADD XX GT: never back, so a slower daemon cannot re-arm a
   * slot already enqueued; never adds, so an app removed meanwhile is not scheduled again).
   */
  async reschedule(appId: string, dueAt: number): Promise<void> {
    await this.redis.zadd(this.keys.pollSchedule(), 'XX', 'GT', dueAt, appId);
  }

  /** Moves many apps forward at once (one ZADD XX GT: each member on its own, as `reschedule`). */
  async rescheduleMany(entries: readonly { appId: string; dueAt: number }[]): Promise<void> {
    if (entries.length === 0) return;
    const args: (string | number)[] = [];
    for (const e of entries) args.push(e.dueAt, e.appId);
    await this.redis.zadd(this.keys.pollSchedule(), 'XX', 'GT', ...args);
  }

  /** App ids due at or before `now` (epoch ms), at most `limit`. */
  async due(now: number, limit = 10_000): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.pollSchedule(), '-inf', now, 'LIMIT', 0, limit);
  }

  /** The next due time of `appId`, or null when it is not scheduled. */
  async nextDue(appId: string): Promise<number | null> {
    const s = await this.redis.zscore(this.keys.pollSchedule(), appId);
    return s === null ? null : Number(s);
  }

  /** Removes `appId` from the schedule. */
  async unschedule(appId: string): Promise<void> {
    await this.redis.zrem(this.keys.pollSchedule(), appId);
  }
}
