/**
 * The audit trail: one Redis stream entry per state-changing action (who, when, what, on what,
 * which request, with what outcome), capped with `XADD MAXLEN ~` so it never grows without
 * bound. Written by the adapters (HTTP routes, CLI commands) once per action, failed ones too;
 * read newest first by `GET /v1/audit` and `mpu audit`.
 */
import type { RedisConnection } from '../lib/redis-connection.js';
import type { Keys } from './keys.js';

/** What the trail records. Names are `<subject>.<verb>`. */
export type AuditAction =
  | 'app.add'
  | 'app.remove'
  | 'installation.register'
  | 'installation.import'
  | 'installation.generate'
  | 'installation.approve'
  | 'rollout.pause'
  | 'rollout.resume'
  | 'rollout.halt'
  | 'rollout.advance'
  | 'rollout.complete'
  | 'rollout.phase'
  | 'rollout.report-failure'
  | 'app.phased-release'
  | 'deploy.receive'
  | 'bulk-upgrade.start'
  | 'bulk-upgrade.cancel'
  | 'site.add'
  | 'sharing.enable'
  | 'sharing.regenerate'
  | 'sharing.stop'
  | 'listing.submit'
  | 'installation.install'
  | 'queue.admin';

/** What an action was about; each field only when known. */
export interface AuditTarget {
  app?: string;
  version?: string;
  installation?: string;
  /** Installations registered or imported. */
  count?: number;
  /** A bulk upgrade's id. */
  bulkUpgrade?: string;
  /** A site (`site.add`, `installation.install`). */
  site?: string;
  /** What else names the subject: a descriptor URL (`app.add`), an imported file, bull-board's method and path. */
  path?: string;
  /** Why, when the system acted by itself (an error budget's pause, a pause cap's resume) or a report says. */
  reason?: string;
}

/** One action to record. */
export interface AuditRecord {
  /** Token name, `link:<installation>`, `cli:<user>`, `deploy-hook` or `anonymous`. */
  actor: string;
  action: AuditAction;
  /** When, epoch ms (the recorder's clock). */
  atMs: number;
  target: AuditTarget;
  /** Fastify's `req.id`, or the id a CLI command made (`cli-<uuid>`). */
  requestId: string;
  /** `ok`, or the error code the action failed with. */
  outcome: string;
}

/** A recorded action: the record plus its stream id and ISO time. */
export interface AuditEntry extends AuditRecord {
  /** Stream id (`<ms>-<seq>`, Redis time): orders the entries. */
  id: string;
  /** `atMs` as ISO 8601. */
  at: string;
}

const TARGET_FIELDS = ['app', 'version', 'installation', 'count', 'path', 'bulkUpgrade', 'site', 'reason'] as const;
/** Entries read per XREVRANGE page when filtering by app. */
const PAGE = 500;

/** Reads and writes the audit stream `keys.audit()`. */
export class AuditStore {
  /**
   * @param maxLen entries kept, approximately (`XADD MAXLEN ~`: Redis trims whole nodes, so a
   *   few more may stay). @defaultValue 100,000
   */
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: Keys,
    private readonly maxLen = 100_000,
  ) {}

  /** Appends one entry. @returns its stream id */
  async record(r: AuditRecord): Promise<string> {
    const fields: (string | number)[] = [
      'at',
      new Date(r.atMs).toISOString(),
      'atMs',
      r.atMs,
      'actor',
      r.actor,
      'action',
      r.action,
      'requestId',
      r.requestId,
      'outcome',
      r.outcome,
    ];
    for (const f of TARGET_FIELDS) if (r.target[f] !== undefined) fields.push(f, String(r.target[f]));
    return (await this.redis.xadd(this.keys.audit(), 'MAXLEN', '~', this.maxLen, '*', ...fields)) as string;
  }

  /**
   * Newest first: at most `limit` entries, only those about `appId` when given (read page by
   * page, so a filter over the whole stream never runs as one long command).
   */
  async list(opts: { appId?: string; limit: number }): Promise<AuditEntry[]> {
    const out: AuditEntry[] = [];
    let end = '+';
    for (;;) {
      const count = opts.appId === undefined ? opts.limit - out.length : PAGE;
      const page = await this.redis.xrevrange(this.keys.audit(), end, '-', 'COUNT', count);
      for (const [id, flat] of page) {
        const e = decode(id, flat);
        if (opts.appId === undefined || e.target.app === opts.appId) out.push(e);
        if (out.length >= opts.limit) return out;
      }
      if (page.length < count) return out;
      end = `(${page.at(-1)![0]}`;
    }
  }
}

function decode(id: string, flat: string[]): AuditEntry {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  const target: AuditTarget = {};
  if (f.app !== undefined) target.app = f.app;
  if (f.version !== undefined) target.version = f.version;
  if (f.installation !== undefined) target.installation = f.installation;
  if (f.count !== undefined) target.count = Number(f.count);
  if (f.path !== undefined) target.path = f.path;
  if (f.bulkUpgrade !== undefined) target.bulkUpgrade = f.bulkUpgrade;
  if (f.site !== undefined) target.site = f.site;
  if (f.reason !== undefined) target.reason = f.reason;
  return {
    id,
    at: f.at ?? '',
    atMs: Number(f.atMs),
    actor: f.actor ?? '',
    action: (f.action ?? '') as AuditAction,
    target,
    requestId: f.requestId ?? '',
    outcome: f.outcome ?? '',
  };
}
