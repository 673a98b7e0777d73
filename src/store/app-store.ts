/**
 * Registered apps and their poll state, in Redis (one HASH per app, see keys.ts `app`).
 * Connect apps are polled (DESIGN.md, "Detection rules"); Forge apps receive deploy events.
 */
import type { Redis } from 'ioredis';
import type { AppKind } from '../versioning/types.js';
import { AppError, ErrorCode } from '../lib/errors.js';
import type { Keys } from './keys.js';

/** Outcome of the last poll of a Connect app. */
export type PollOutcome = 'changed' | 'unchanged' | 'not-modified' | 'failed';

/** One registered app. Times are epoch ms. */
export interface AppRecord {
  /** Connect: the addon key (or `--id`); Forge: the app ARI `ari:cloud:ecosystem::app/<uuid>`. */
  id: string;
  kind: AppKind;
  /** Connect: the descriptor URL polled every interval. */
  descriptorUrl?: string;
  /** `active`, or `failing` after a failed poll (until the next successful one). */
  status: 'active' | 'failing';
  createdAt: number;
  lastPollAt?: number;
  lastPollOutcome?: PollOutcome;
  /** HTTP status of the last poll's final response, when one came. */
  lastHttpStatus?: number;
  /** Failed poll attempts since the last success. */
  consecutiveFailures: number;
  /** Failed poll attempts ever. */
  totalFailures: number;
  /** `<code>: <message>` of the last failure, e.g. `descriptor-fetch-refused: port 22 is not allowed`. */
  lastError?: string;
  lastErrorAt?: number;
  /** Conditional request validators from the last 200 response. */
  etag?: string;
  lastModified?: string;
  /** Hash of the last descriptor fetched successfully. */
  lastSeenHash?: string;
  /** Forge: environments that sent deploy events, with the last deployment time. */
  environments?: Record<string, number>;
}

/** Ids are used inside Redis hash tags and URLs: no braces, no whitespace, ≤ 200 chars. */
const APP_ID = /^[A-Za-z0-9._:/@+-]{1,200}$/;
/** `ari:cloud:ecosystem::app/<uuid>` (DESIGN.md, "Connect to Forge migration"). */
export const FORGE_ARI = /^ari:cloud:ecosystem::app\/[0-9a-fA-F-]{36}$/;

/** @throws AppError input-invalid when `id` cannot be an app id. */
export function assertAppId(id: string): void {
  if (!APP_ID.test(id)) {
    throw new AppError(ErrorCode.INPUT_INVALID, `invalid app id '${id}': use letters, digits and . _ : / @ + - (at most 200)`, {
      details: { appId: id },
    });
  }
}

const NUMERIC: (keyof AppRecord)[] = ['createdAt', 'lastPollAt', 'lastHttpStatus', 'consecutiveFailures', 'totalFailures', 'lastErrorAt'];

function decode(h: Record<string, string>): AppRecord | null {
  if (!h.id || !h.kind) return null;
  const rec: Record<string, unknown> = { ...h };
  for (const k of NUMERIC) if (h[k] !== undefined) rec[k] = Number(h[k]);
  rec.consecutiveFailures = Number(h.consecutiveFailures ?? 0);
  rec.totalFailures = Number(h.totalFailures ?? 0);
  if (h.environments) rec.environments = JSON.parse(h.environments) as Record<string, number>;
  return rec as unknown as AppRecord;
}

/** Redis-backed app registry. */
export class AppStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /**
   * Registers a Connect app polled at `descriptorUrl`.
   * @throws AppError app-conflict when the id exists; input-invalid for a bad id or URL.
   */
  async addConnectApp(input: { id: string; descriptorUrl: string; now: number }): Promise<AppRecord> {
    assertAppId(input.id);
    let url: URL;
    try {
      url = new URL(input.descriptorUrl);
    } catch {
      throw new AppError(ErrorCode.INPUT_INVALID, `invalid descriptor URL '${input.descriptorUrl}'`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new AppError(ErrorCode.INPUT_INVALID, `descriptor URL must be http(s): '${input.descriptorUrl}'`);
    }
    const rec: AppRecord = {
      id: input.id,
      kind: 'connect',
      descriptorUrl: url.toString(),
      status: 'active',
      createdAt: input.now,
      consecutiveFailures: 0,
      totalFailures: 0,
    };
    await this.create(rec);
    return rec;
  }

  /**
   * Registers a Forge app by ARI.
   * @throws AppError app-conflict when it exists; input-invalid when `ari` is not a Forge app ARI.
   */
  async addForgeApp(input: { ari: string; now: number }): Promise<AppRecord> {
    if (!FORGE_ARI.test(input.ari)) {
      throw new AppError(ErrorCode.INPUT_INVALID, `invalid Forge app ARI '${input.ari}': expected ari:cloud:ecosystem::app/<uuid>`);
    }
    const rec: AppRecord = {
      id: input.ari,
      kind: 'forge',
      status: 'active',
      createdAt: input.now,
      consecutiveFailures: 0,
      totalFailures: 0,
      environments: {},
    };
    await this.create(rec);
    return rec;
  }

  private async create(rec: AppRecord): Promise<void> {
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(rec)) {
      if (v !== undefined) fields[k] = typeof v === 'object' ? JSON.stringify(v) : String(v);
    }
    // HSETNX on `id` decides who registers; the other fields follow in the same MULTI only when it won.
    const created = await this.redis.hsetnx(this.keys.app(rec.id), 'id', rec.id);
    if (!created) throw new AppError(ErrorCode.APP_CONFLICT, `app '${rec.id}' is already registered`, { details: { appId: rec.id } });
    await this.redis.multi().hset(this.keys.app(rec.id), fields).sadd(this.keys.apps(), rec.id).exec();
  }

  /** @returns the app, or null when unknown. */
  async getApp(appId: string): Promise<AppRecord | null> {
    return decode(await this.redis.hgetall(this.keys.app(appId)));
  }

  /** @throws AppError app-not-found. */
  async requireApp(appId: string): Promise<AppRecord> {
    const app = await this.getApp(appId);
    if (!app) throw new AppError(ErrorCode.APP_NOT_FOUND, `no app '${appId}' (see 'mpu apps list')`, { details: { appId } });
    return app;
  }

  /** Every registered app, sorted by id. */
  async listApps(): Promise<AppRecord[]> {
    const ids = (await this.redis.smembers(this.keys.apps())).sort();
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(this.keys.app(id));
    const res = (await pipe.exec()) ?? [];
    return res.map(([, h]) => decode(h as Record<string, string>)).filter((a): a is AppRecord => a !== null);
  }

  /**
   * Records a successful poll: resets the failure streak, keeps the validators for the next
   * conditional request.
   */
  async recordPollSuccess(
    appId: string,
    r: { at: number; outcome: Exclude<PollOutcome, 'failed'>; httpStatus: number; etag?: string; lastModified?: string; hash?: string },
  ): Promise<void> {
    const key = this.keys.app(appId);
    const fields: Record<string, string> = {
      status: 'active',
      lastPollAt: String(r.at),
      lastPollOutcome: r.outcome,
      lastHttpStatus: String(r.httpStatus),
      consecutiveFailures: '0',
    };
    if (r.etag !== undefined) fields.etag = r.etag;
    if (r.lastModified !== undefined) fields.lastModified = r.lastModified;
    if (r.hash !== undefined) fields.lastSeenHash = r.hash;
    // Never resurrect a deleted app: only write when the record still exists.
    if (!(await this.redis.exists(key))) return;
    const m = this.redis.multi().hset(key, fields);
    // A 200 without validators forgets the old ones; a 304 keeps them.
    if (r.outcome !== 'not-modified') {
      if (r.etag === undefined) m.hdel(key, 'etag');
      if (r.lastModified === undefined) m.hdel(key, 'lastModified');
    }
    await m.exec();
  }

  /** Records a failed poll attempt with its reason (`<code>: <message>`). */
  async recordPollFailure(appId: string, r: { at: number; error: string; httpStatus?: number }): Promise<void> {
    const key = this.keys.app(appId);
    if (!(await this.redis.exists(key))) return;
    const fields: Record<string, string> = {
      status: 'failing',
      lastPollAt: String(r.at),
      lastPollOutcome: 'failed',
      lastError: r.error.slice(0, 500),
      lastErrorAt: String(r.at),
    };
    const m = this.redis.multi().hset(key, fields).hincrby(key, 'consecutiveFailures', 1).hincrby(key, 'totalFailures', 1);
    if (r.httpStatus !== undefined) m.hset(key, 'lastHttpStatus', String(r.httpStatus));
    else m.hdel(key, 'lastHttpStatus');
    await m.exec();
  }

  /** Records that a Forge environment sent a deploy event at `at` (epoch ms). */
  async recordForgeDeployment(appId: string, environment: string, at: number): Promise<void> {
    const app = await this.requireApp(appId);
    const envs = { ...(app.environments ?? {}), [environment]: at };
    await this.redis.hset(this.keys.app(appId), 'environments', JSON.stringify(envs));
  }
}
