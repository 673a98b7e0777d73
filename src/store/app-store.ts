/**
 * Registered apps and their poll state, in Redis (one HASH per app, see keys.ts `app`).
 * Connect apps are polled (DESIGN.md, "Detection rules"); Forge apps receive deploy events.
 */
import type { AppKind } from '../versioning/types.js';
import { CONNECT_PRODUCTS, type ConnectProduct } from '../versioning/connect-products.js';
import { AppError, ErrorCode } from '../lib/errors.js';
import type { PhaseSchedule } from '../rollout/phased-release.js';
import type { Keys } from './keys.js';
import { flagOf, pollNotRecorded, pollsClaimed, recordedPerKey } from './script-results.js';
import { crossSlotPipeline, isCluster, type RedisConnection } from '../lib/redis-connection.js';
import { defineScripts, type ScriptedRedis } from './scripts.js';

/** Outcome of the last poll of a Connect app. */
export type PollOutcome = 'changed' | 'unchanged' | 'not-modified' | 'failed';

/** One registered app. Times are epoch ms. */
export interface AppRecord {
  /** Connect: the addon key (or `--id`); Forge: the app ARI `ari:cloud:ecosystem::app/<uuid>`. */
  id: string;
  kind: AppKind;
  /** Connect: the descriptor URL polled every interval. */
  descriptorUrl?: string;
  /**
   * Connect: the product the app is for (`mpu apps add connect URL --product P`), whose scope rules
   * classify its changes (DESIGN.md, "Connect scopes differ by product"); absent: inferred.
   */
  product?: ConnectProduct;
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
  /**
   * The latest version and its descriptor hash, kept by the version store's append (so a poll
   * reads them with its claim). Absent on records written before they existed: read the history.
   */
  latestVersion?: string;
  latestHash?: string;
  /**
   * Detection time (epoch ms) of the latest polled change the versioning step decided (a version
   * created, or none needed), kept by the version store: a polled change detected before it is
   * stale and is not appended (VersionStore.storeVersion, `superseded`).
   */
  versionedAt?: number;
  /**
   * The app's phased release of automatic versions (rollout/phased-release.ts): each automatic
   * version's rollout follows this schedule; absent: off (DESIGN.md "Rollout rules" windows).
   */
  phasedRelease?: PhaseSchedule;
  /** Poll slot most recently claimed (see `claimPolls`). */
  pollSlot?: number;
  /** Who holds the claim on `pollSlot`: a poll job id; `''` once that poll is done. */
  pollClaim?: string;
}

/** The fields of an app a poll reads. */
export type PollTarget = Pick<
  AppRecord,
  | 'id'
  | 'kind'
  | 'descriptorUrl'
  | 'etag'
  | 'lastModified'
  | 'lastSeenHash'
  | 'latestVersion'
  | 'latestHash'
  | 'product'
>;
const POLL_TARGET_FIELDS = [
  'id',
  'kind',
  'descriptorUrl',
  'etag',
  'lastModified',
  'lastSeenHash',
  'latestVersion',
  'latestHash',
  'product',
] as const;

/** A scheduled poll's claim: the app's slot number and the job id that polls it. */
export interface PollClaim {
  slot: number;
  owner: string;
}

/** What `claimPolls` found for one app. */
export type ClaimResult =
  /** The caller polls it: what a poll reads of the app, as it was when claimed. */
  | { status: 'claimed'; app: PollTarget }
  /** Another job polls (or polled) this slot, or a later slot was claimed already: skip it. `owner`: who holds the app's claim now (`''` = done). */
  | { status: 'taken'; owner: string }
  /** Not registered (any more): skip it. */
  | { status: 'gone' };

// Poll claims and poll records are written by one Lua script per batch of apps (up to
// SCRIPT_BATCH; commands/claimPolls.lua and commands/recordPolls.lua): ioredis builds, writes
// and parses each command, a cost paid once per batch instead of once per poll
// (docs/performance.md). Each app's keys still carry its own hash tag: on a Redis Cluster
// connection the batches hold one app each (a script's keys must share a slot).
const SCRIPT_BATCH = 500;

/** A value for recordPolls.lua's NUL-joined arguments: NUL (never in an HTTP header value) becomes U+FFFD. */
const noNul = (v: string): string => (v.includes('\0') ? v.replaceAll('\0', '\uFFFD') : v);

/** `items` in batches for one script each: SCRIPT_BATCH apps, or one app on a Cluster connection. */
function scriptBatches<T>(redis: RedisConnection, items: readonly T[]): T[][] {
  const size = isCluster(redis) ? 1 : SCRIPT_BATCH;
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Ids are used inside Redis hash tags and URLs: no braces, no whitespace, ≤ 200 chars. */
const APP_ID = /^[A-Za-z0-9._:/@+-]{1,200}$/;
/** `ari:cloud:ecosystem::app/<uuid>` (DESIGN.md, "Connect to Forge migration"). */
export const FORGE_ARI = /^ari:cloud:ecosystem::app\/[0-9a-fA-F-]{36}$/;

/** @throws AppError input-invalid when `id` cannot be an app id. */
export function assertAppId(id: string): void {
  if (!APP_ID.test(id)) {
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `invalid app id '${id}': use letters, digits and . _ : / @ + - (at most 200)`,
      {
        details: { appId: id },
      },
    );
  }
}

const NUMERIC: (keyof AppRecord)[] = [
  'createdAt',
  'lastPollAt',
  'lastHttpStatus',
  'consecutiveFailures',
  'totalFailures',
  'lastErrorAt',
  'pollSlot',
  'versionedAt',
];

function decode(h: Record<string, string>): AppRecord | null {
  if (!h.id || !h.kind) return null;
  const rec: Record<string, unknown> = { ...h };
  for (const k of NUMERIC) if (h[k] !== undefined) rec[k] = Number(h[k]);
  rec.consecutiveFailures = Number(h.consecutiveFailures ?? 0);
  rec.totalFailures = Number(h.totalFailures ?? 0);
  if (h.environments) rec.environments = JSON.parse(h.environments) as Record<string, number>;
  if (h.phasedRelease) rec.phasedRelease = JSON.parse(h.phasedRelease) as PhaseSchedule;
  return rec as unknown as AppRecord;
}

/** A claimed app's fields as read (`claimPolls`): gone when they are not those of a registered app. */
function claimedApp(app: Record<string, string>): ClaimResult {
  return app.id && app.kind ? { status: 'claimed', app: app as unknown as PollTarget } : { status: 'gone' };
}

/** Redis-backed app registry. */
export class AppStore {
  private readonly redis: ScriptedRedis;
  constructor(
    redis: RedisConnection,
    private readonly keys: Keys,
  ) {
    this.redis = defineScripts(redis);
  }

  /** Poll records waiting for the next flush (`recordPoll`): the app's key, its NUL-joined arguments. */
  private pendingRecords: {
    key: string;
    packed: string;
    resolve(recorded: boolean): void;
    reject(err: unknown): void;
  }[] = [];

  /**
   * Runs recordPolls.lua for the app at `key` with `args` (none holding NUL: see `noNul`).
   * Records asked for in the same turn of the event loop (the polls of a chunk finish close
   * together) go out together, in one script per batch of apps: one command instead of one per
   * poll (docs/performance.md). Each caller
   * still gets its own result or error.
   * @returns false when the app's record does not exist (removed): nothing written.
   */
  private recordPoll(key: string, args: string[]): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      if (this.pendingRecords.push({ key, packed: args.join('\0'), resolve, reject }) === 1)
        setImmediate(() => void this.flushRecords());
    });
  }

  private async flushRecords(): Promise<void> {
    const pending = this.pendingRecords;
    this.pendingRecords = [];
    await Promise.all(
      scriptBatches(this.redis, pending).map(async (batch) => {
        const args: string[] = new Array<string>(2 * batch.length);
        for (let i = 0; i < batch.length; i++) {
          args[i] = batch[i]!.key;
          args[batch.length + i] = batch[i]!.packed;
        }
        try {
          const recorded = recordedPerKey(await this.redis.mpuRecordPolls(batch.length, ...args), batch.length);
          for (let i = 0; i < batch.length; i++) batch[i]!.resolve(recorded[i]!);
        } catch (err) {
          for (const r of batch) r.reject(err);
        }
      }),
    );
  }

  /**
   * Registers a Connect app polled at `descriptorUrl`, for `product` when given.
   * @throws AppError app-conflict when the id exists; input-invalid for a bad id, URL or product.
   */
  async addConnectApp(input: {
    id: string;
    descriptorUrl: string;
    now: number;
    product?: ConnectProduct;
  }): Promise<AppRecord> {
    assertAppId(input.id);
    if (input.product !== undefined && !CONNECT_PRODUCTS.includes(input.product))
      throw new AppError(
        ErrorCode.INPUT_INVALID,
        `unknown product '${String(input.product)}': expected one of ${CONNECT_PRODUCTS.join(', ')}`,
      );
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
      ...(input.product ? { product: input.product } : {}),
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
      throw new AppError(
        ErrorCode.INPUT_INVALID,
        `invalid Forge app ARI '${input.ari}': expected ari:cloud:ecosystem::app/<uuid>`,
      );
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
    // Two hash slots, two steps: the apps SET first (idempotent), then the record, created with
    // all its fields at once only if absent (commands/createRecord-1.lua), which decides who
    // registers. A failure between the two leaves an id in the SET without a record: readers of
    // the SET skip it (`listApps`), and registering the app again completes it.
    await this.redis.sadd(this.keys.apps(), rec.id);
    const created = await this.redis.mpuCreateRecord(this.keys.app(rec.id), 'id', ...Object.entries(fields).flat());
    if (!flagOf('createRecord', created))
      throw new AppError(ErrorCode.APP_CONFLICT, `app '${rec.id}' is already registered`, {
        details: { appId: rec.id },
      });
  }

  /** @returns the app, or null when unknown. */
  async getApp(appId: string): Promise<AppRecord | null> {
    return decode(await this.redis.hgetall(this.keys.app(appId)));
  }

  /** @throws AppError app-not-found. */
  async requireApp(appId: string): Promise<AppRecord> {
    const app = await this.getApp(appId);
    if (!app)
      throw new AppError(ErrorCode.APP_NOT_FOUND, `no app '${appId}' (see 'mpu apps list')`, { details: { appId } });
    return app;
  }

  /**
   * Sets the app's phased release of automatic versions (null: off). Only while the app is
   * registered (commands/setAppField-1.lua).
   * @throws AppError app-not-found
   */
  async setPhasedRelease(appId: string, schedule: PhaseSchedule | null): Promise<void> {
    const value = schedule ? JSON.stringify({ percents: schedule.percents, intervalMs: schedule.intervalMs }) : '';
    if (!flagOf('setAppField', await this.redis.mpuSetAppField(this.keys.app(appId), 'phasedRelease', value)))
      throw new AppError(ErrorCode.APP_NOT_FOUND, `no app '${appId}' (see 'mpu apps list')`, { details: { appId } });
  }

  /** Every registered app, sorted by id. */
  async listApps(): Promise<AppRecord[]> {
    const ids = (await this.redis.smembers(this.keys.apps())).sort();
    const pipe = crossSlotPipeline(this.redis);
    for (const id of ids) pipe.hgetall(this.keys.app(id));
    const res = (await pipe.exec()) ?? [];
    return res.map(([, h]) => decode(h as Record<string, string>)).filter((a): a is AppRecord => a !== null);
  }

  /**
   * Claims the poll of each app's `slot` for `owner` (a poll job id) and reads the app: one Lua
   * script per batch of apps (see SCRIPT_BATCH), the batches sent together. A second job
   * with the same app and slot (another daemon's batch) is told `taken`, so each app is polled
   * once per slot; the same owner may claim again (a redelivered job polls what it had not done).
   */
  async claimPolls(owner: string, claims: readonly { appId: string; slot: number }[]): Promise<ClaimResult[]> {
    if (claims.length === 0) return [];
    const replies = await Promise.all(
      scriptBatches(this.redis, claims).map((batch) => {
        const args: string[] = batch.map((c) => this.keys.app(c.appId));
        args.push(owner);
        for (const c of batch) args.push(String(c.slot));
        return this.redis.mpuClaimPolls(batch.length, ...args);
      }),
    );
    const decoded = replies.flatMap((reply) => pollsClaimed(reply, POLL_TARGET_FIELDS));
    const out = decoded.map((r): ClaimResult | undefined => {
      if (r.status === 'claimed') return claimedApp(r.fields);
      // A NUL inside a value (never written by this store) would shift the fields: read the app.
      if (r.status === 'unreadable') return undefined;
      return r;
    });
    for (let i = 0; i < out.length; i++) {
      if (out[i] !== undefined) continue;
      const fields = await this.redis.hmget(this.keys.app(claims[i]!.appId), ...POLL_TARGET_FIELDS);
      const app: Record<string, string> = {};
      fields.forEach((v, j) => {
        if (v !== null) app[POLL_TARGET_FIELDS[j]!] = v;
      });
      out[i] = claimedApp(app);
    }
    return out as ClaimResult[];
  }

  /**
   * Records a successful poll: resets the failure streak, keeps the validators for the next
   * conditional request. With `claim`, marks that slot's poll done (when the caller still holds it).
   * @throws AppError app-not-found when the app's record does not exist (removed while polled):
   *   nothing is written.
   */
  async recordPollSuccess(
    appId: string,
    r: {
      at: number;
      outcome: Exclude<PollOutcome, 'failed'>;
      httpStatus: number;
      etag?: string;
      lastModified?: string;
      hash?: string;
    },
    claim?: PollClaim,
  ): Promise<void> {
    // A 200 without validators forgets the old ones; a 304 keeps them.
    let forget = '';
    if (r.outcome !== 'not-modified') {
      if (r.etag === undefined) forget = 'etag';
      if (r.lastModified === undefined) forget = forget ? `${forget},lastModified` : 'lastModified';
    }
    // recordPolls.lua's arguments: claim, fields to delete, no failure, then the fields.
    const args: string[] = [
      claim ? String(claim.slot) : '',
      claim?.owner ?? '',
      '',
      forget,
      '0',
      'status',
      'active',
      'lastPollAt',
      String(r.at),
      'lastPollOutcome',
      r.outcome,
      'lastHttpStatus',
      String(r.httpStatus),
      'consecutiveFailures',
      '0',
    ];
    if (r.etag !== undefined) args.push('etag', noNul(r.etag));
    if (r.lastModified !== undefined) args.push('lastModified', noNul(r.lastModified));
    if (r.hash !== undefined) args.push('lastSeenHash', r.hash);
    // Never resurrects a deleted app: the script writes only when the record still exists.
    if (!(await this.recordPoll(this.keys.app(appId), args))) throw pollNotRecorded(appId);
  }

  /**
   * Records a failed poll attempt with its reason (`<code>: <message>`). With `claim`, the slot's
   * claim passes to `handOffTo` (the retry job's id) or, without one, the poll is done.
   */
  async recordPollFailure(
    appId: string,
    r: { at: number; error: string; httpStatus?: number },
    claim?: PollClaim & { handOffTo?: string },
  ): Promise<void> {
    const fields: string[] = [
      'status',
      'failing',
      'lastPollAt',
      String(r.at),
      'lastPollOutcome',
      'failed',
      'lastError',
      noNul(r.error.slice(0, 500)),
      'lastErrorAt',
      String(r.at),
    ];
    if (r.httpStatus !== undefined) fields.push('lastHttpStatus', String(r.httpStatus));
    await this.recordPoll(this.keys.app(appId), [
      claim ? String(claim.slot) : '',
      claim?.owner ?? '',
      claim?.handOffTo ?? '',
      r.httpStatus === undefined ? 'lastHttpStatus' : '',
      '1',
      ...fields,
    ]);
  }

  /**
   * Records that a Forge environment sent a deploy event at `at` (epoch ms).
   * @throws AppError app-not-found. An app removed after the read is not re-created (the write
   *   goes through recordPolls.lua, which writes only to an existing record).
   */
  async recordForgeDeployment(appId: string, environment: string, at: number): Promise<void> {
    const app = await this.requireApp(appId);
    const envs = { ...(app.environments ?? {}), [environment]: at };
    await this.recordPoll(this.keys.app(appId), ['', '', '', '', '0', 'environments', JSON.stringify(envs)]);
  }
}
