/**
 * Redis store of the "update available" notices sent to installations' admins for manual versions
 * (DESIGN.md "Rollout rules", manual approval: "its admins are emailed"), and of their reminders.
 * Per app and version, one hash field per installation notified: `<notified at>[,<reminded at>…]`
 * (keys.ts `approvalNotices`); per app, one sorted set of the reminders to come, scored by time
 * (`approvalReminders`). Every key starts with the app's key (Redis Cluster safe; removed with
 * its app). Times are clock ms.
 */
import type { RedisConnection } from '../lib/redis-connection.js';
import type { NoticeFacts } from '../rollout/explain-installation.js';
import { execAll } from '../lib/exec-all.js';
import type { Keys } from './keys.js';
import { flagOf } from './script-results.js';
import { defineScripts, type ScriptedRedis } from './scripts.js';

/** A reminder that is due: its version, installation and the score it was read with. */
export interface DueReminder {
  version: string;
  id: string;
  /** Its scheduled time, clock ms (the claim compares it). */
  score: number;
}

/** One installation's notice record of one version. */
export interface NoticeRecord extends NoticeFacts {
  id: string;
}

function parseRecord(raw: string | null | undefined): NoticeFacts | null {
  if (!raw) return null;
  const [first, ...rest] = raw.split(',').map(Number);
  return Number.isFinite(first) ? { notifiedAt: first!, remindedAt: rest.filter(Number.isFinite) } : null;
}

const member = (version: string, id: string) => `${version}\t${id}`;

/** Reads and writes notices and reminders. */
export class ApprovalNoticeStore {
  private readonly redis: ScriptedRedis;
  constructor(
    redis: RedisConnection,
    readonly keys: Keys,
  ) {
    this.redis = defineScripts(redis);
  }

  /** Which of `ids` were already notified of `version` (a notify batch run again skips them). */
  async notified(appId: string, version: string, ids: readonly string[]): Promise<boolean[]> {
    if (ids.length === 0) return [];
    const raw = await this.redis.hmget(this.keys.approvalNotices(appId, version), ...ids);
    return raw.map((r) => r !== null);
  }

  /**
   * Records that `ids`' admins were notified of `version` at `at` (once: a record already there
   * is kept), and schedules each one's first reminder at `remindAt`.
   */
  async recordNotices(appId: string, version: string, ids: readonly string[], at: number, remindAt: number) {
    if (ids.length === 0) return;
    const pipe = this.redis.pipeline();
    const zadd: (string | number)[] = [];
    for (const id of ids) {
      pipe.hsetnx(this.keys.approvalNotices(appId, version), id, String(at));
      zadd.push(remindAt, member(version, id));
    }
    pipe.zadd(this.keys.approvalReminders(appId), 'NX', ...zadd);
    await execAll(pipe);
  }

  /** The notice record of one installation and version, or null. */
  async get(appId: string, version: string, id: string): Promise<NoticeFacts | null> {
    return parseRecord(await this.redis.hget(this.keys.approvalNotices(appId, version), id));
  }

  /** Notice records of `id` for each of `versions` (absent when never notified). */
  async forInstallation(appId: string, id: string, versions: readonly string[]): Promise<Map<string, NoticeFacts>> {
    const out = new Map<string, NoticeFacts>();
    if (versions.length === 0) return out;
    const pipe = this.redis.pipeline();
    for (const v of versions) pipe.hget(this.keys.approvalNotices(appId, v), id);
    const raw = await execAll<string | null>(pipe);
    versions.forEach((v, k) => {
      const r = parseRecord(raw[k]);
      if (r) out.set(v, r);
    });
    return out;
  }

  /** Every notice record of `version`, in pages of `count` (HSCAN). */
  async *scan(appId: string, version: string, count = 5000): AsyncGenerator<NoticeRecord[]> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.approvalNotices(appId, version), cursor, 'COUNT', count);
      cursor = next;
      const page: NoticeRecord[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        const r = parseRecord(flat[i + 1]);
        if (r) page.push({ id: flat[i]!, ...r });
      }
      if (page.length) yield page;
    } while (cursor !== '0');
  }

  /** Reminders due at `now` or before, oldest first, at most `max`. */
  async dueReminders(appId: string, now: number, max: number): Promise<DueReminder[]> {
    const flat = await this.redis.zrangebyscore(
      this.keys.approvalReminders(appId),
      '-inf',
      now,
      'WITHSCORES',
      'LIMIT',
      0,
      max,
    );
    const out: DueReminder[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const m = flat[i]!;
      const tab = m.indexOf('\t');
      out.push({ version: m.slice(0, tab), id: m.slice(tab + 1), score: Number(flat[i + 1]) });
    }
    return out;
  }

  /**
   * Claims a due reminder: appends `at` to its notice record and moves it to `next`, only if
   * its score is still `r.score` (claimReminder-2.lua). @returns false when another sweep took it
   */
  async claimReminder(appId: string, r: DueReminder, at: number, next: number): Promise<boolean> {
    const reply = await this.redis.mpuClaimReminder(
      this.keys.approvalNotices(appId, r.version),
      this.keys.approvalReminders(appId),
      member(r.version, r.id),
      r.id,
      r.score,
      at,
      next,
    );
    return flagOf('claimReminder', reply);
  }

  /** Stops the reminders of these (approved, upgraded or superseded). */
  async dropReminders(appId: string, rs: readonly Pick<DueReminder, 'version' | 'id'>[]): Promise<void> {
    if (rs.length === 0) return;
    await this.redis.zrem(this.keys.approvalReminders(appId), ...rs.map((r) => member(r.version, r.id)));
  }

  /** How many reminders are scheduled for the app. */
  scheduled(appId: string): Promise<number> {
    return this.redis.zcard(this.keys.approvalReminders(appId));
  }
}
