/**
 * The poll schedule: a ZSET of Connect app ids scored by their next due time (keys.ts
 * `pollSchedule`). A scheduler tick reads the apps that are due and moves each to its next slot;
 * two daemons reading the same due apps name their polls by the same entries, so they enqueue the
 * same job ids (a no-op) whatever their own times: sharing it is safe.
 */
import type { RedisConnection } from '../lib/redis-connection.js';
import type { Keys } from './keys.js';

/** An app found due, and the due time of its schedule entry (epoch ms). */
export interface DueApp {
  appId: string;
  dueAt: number;
}

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

  /**
   * The apps due at or before `now` (epoch ms), at most `limit`, earliest first, each with the
   * due time of its entry (epoch ms): the entry names the poll (schedule-polls.ts), so every
   * daemon that reads the same entry names the same poll, whatever its own time.
   */
  async due(now: number, limit = 10_000): Promise<DueApp[]> {
    const flat = await this.redis.zrangebyscore(this.keys.pollSchedule(), '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit);
    const out: DueApp[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ appId: flat[i]!, dueAt: Number(flat[i + 1]) });
    return out;
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
