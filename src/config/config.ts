/**
 * Daemon configuration from the environment (STYLE.md "Config"): one zod
 * schema with its defaults; `loadConfig(env)` reports every problem at once as
 * `AppError('config-invalid')` and returns a frozen object. Only src/main.ts passes
 * `process.env`; tests pass plain objects.
 */
import { z } from 'zod';
import { AppError, ErrorCode } from '../lib/errors.js';
import { deriveApprovalSecret } from '../lib/approval-link.js';
import { DEFAULT_ALLOWED_PORTS, parseAllowList } from '../poller/address-policy.js';
import type { FetchPolicy } from '../poller/descriptor-fetcher.js';
import type { RedisTarget } from '../lib/redis-connection.js';
import { queuePrefixFor } from '../jobs/queues.js';

/** `5h`, `30m`, `45s`, `250ms` or a bare number of ms → ms. */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 'ms') as 'ms'];
  return Math.round(n * unit);
}

const duration = (def: string) =>
  z
    .string()
    .default(def)
    .transform((s, ctx) => {
      const ms = parseDuration(s);
      if (ms === null || ms <= 0) {
        ctx.addIssue({ code: 'custom', message: `'${s}' is not a duration (e.g. 5h, 30m, 10s, 500ms)` });
        return z.NEVER;
      }
      return ms;
    });
/** A duration that may be 0 (`0`, `0s`), at most `maxMs`. */
const spanOrZero = (def: string, maxMs: number) =>
  z
    .string()
    .default(def)
    .transform((s, ctx) => {
      const ms = parseDuration(s);
      if (ms === null || ms < 0 || ms > maxMs) {
        ctx.addIssue({ code: 'custom', message: `'${s}' is not a duration from 0 to 24h (e.g. 0, 30s, 5m)` });
        return z.NEVER;
      }
      return ms;
    });
const int = (def: number, min = 1) => z.coerce.number().int().min(min).default(def);
const list = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  );

/**
 * Parses `REDIS_CLUSTER_NODES`: `host:port` entries separated by commas (an IPv6 host in
 * brackets, `[::1]:7000`). @returns the nodes, or a problem to report.
 */
export function parseClusterNodes(text: string): { host: string; port: number }[] | string {
  const nodes: { host: string; port: number }[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(entry);
    const port = m ? Number(m[3]) : NaN;
    if (!m || port < 1 || port > 65535) return `'${entry}' is not host:port (e.g. 10.0.0.5:6379)`;
    nodes.push({ host: m[1] ?? m[2]!, port });
  }
  if (nodes.length === 0) return 'no node given: host:port,host:port,…';
  return nodes;
}

/**
 * The store's key prefix and the BullMQ queue prefix of `MPU_PREFIX` (`name` or `{name}`):
 * store keys use `name` (each app's keys carry their own hash tag `{appId}`, which a braced prefix
 * would override, putting every key in one slot); queues use `{name}` when it was written so or
 * when Redis is a cluster (BullMQ's Lua scripts touch several keys of a queue, which must share a
 * slot: BullMQ docs, "Redis Cluster"), else `name` (the queues a single-server deployment has).
 */
export function prefixesOf(mpuPrefix: string, cluster: boolean): { prefix: string; queuePrefix: string } {
  const braced = /^\{(.*)\}$/.exec(mpuPrefix);
  const prefix = braced ? braced[1]! : mpuPrefix;
  return { prefix, queuePrefix: queuePrefixFor(prefix, cluster || braced !== null) };
}

const Env = z.object({
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /** `host:port,host:port,…`: some nodes of a Redis Cluster (the others are discovered); replaces REDIS_URL. */
  REDIS_CLUSTER_NODES: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined) return undefined;
      const nodes = parseClusterNodes(s);
      if (typeof nodes === 'string') {
        ctx.addIssue({ code: 'custom', message: nodes });
        return z.NEVER;
      }
      return nodes;
    }),
  /**
   * Prefix of store keys and BullMQ queues: a name, or a name in braces (`{mpu}`), the BullMQ queue
   * hash tag Redis Cluster needs (store keys use the name without braces: see `prefixesOf`).
   */
  MPU_PREFIX: z
    .string()
    .regex(
      /^(?:[A-Za-z0-9_-]+|\{[A-Za-z0-9_-]+\})$/,
      'letters, digits, _ and - only (no ":"), optionally in braces as a hash tag: {mpu}',
    )
    .default('mpu'),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** HMAC secret of Forge deploy events; the HTTP API refuses to start without one. */
  MPU_WEBHOOK_SECRET: z.string().min(16, 'at least 16 characters').optional(),
  /** Replaced by MPU_OPERATOR_TOKENS: reported as a problem so bull-board access is not lost silently. */
  MPU_ADMIN_TOKEN: z.string().optional(),
  /** `name:token,…`: full control (every route, bull-board). Parsed by `parseTokens`. */
  MPU_OPERATOR_TOKENS: z.string().optional(),
  /** `name:token,…`: read-only (every GET, /metrics). */
  MPU_VIEWER_TOKENS: z.string().optional(),
  /** HMAC secret of approval links; unset: derived from MPU_WEBHOOK_SECRET (HKDF). */
  MPU_APPROVAL_SECRET: z.string().min(16, 'at least 16 characters').optional(),
  /** Base URL of approval links, as admins reach the daemon. @defaultValue http://HOST:PORT */
  MPU_PUBLIC_URL: z
    .string()
    .url()
    .refine((u) => /^https?:/.test(u), 'must be an http(s) URL')
    .optional(),
  MPU_APPROVAL_LINK_TTL: duration('7d'),
  /** Requests per client IP and window on the deploy intake. */
  MPU_DEPLOY_RATE_LIMIT: int(120),
  /** Requests per client IP and window on approval links. */
  MPU_APPROVAL_RATE_LIMIT: int(30),
  MPU_RATE_LIMIT_WINDOW: duration('1m'),
  /** Entries kept in the audit stream (XADD MAXLEN ~). */
  MPU_AUDIT_MAX_LEN: int(100_000, 100),
  /** Bulk upgrades running at once, all apps and accounts (the global limit). */
  MPU_BULK_UPGRADE_LIMIT: int(10),
  /** How long a finished bulk upgrade's record is kept. */
  MPU_BULK_UPGRADE_RETENTION: duration('30d'),
  /** How often a pending approval's notice is repeated to its admins. */
  MPU_APPROVAL_REMINDER_INTERVAL: duration('3d'),
  /** How often the reconciliation sweep runs, and how late counts as overdue. */
  MPU_RECONCILE_INTERVAL: duration('1h'),
  MPU_RECONCILE_GRACE: duration('5m'),
  /**
   * How long an automatic Forge version takes to reach every installation (each installation gets
   * a stable slot in it; DESIGN.md "Rollout rules": "within a few minutes"); 0 sends it to all at
   * once (e.g. a security fix), at the store's own speed.
   */
  MPU_FORGE_SPREAD: spanOrZero('5m', 24 * 3_600_000),
  /** The window a Connect to Forge adoption moves its eligible installations in (at most 30 days). */
  MPU_ADOPTION_WINDOW: duration('120h'),
  /** Error budget: a rollout pauses itself when reported failures exceed max(count, ratio × upgraded). */
  MPU_ERROR_BUDGET_COUNT: int(5, 0),
  MPU_ERROR_BUDGET_RATIO: z.coerce.number().min(0).max(1).default(0.05),
  /** Longest total pause of a phased release before it resumes by itself (Apple: 30 days). */
  MPU_PHASED_PAUSE_CAP: duration('30d'),
  /** Where "update available" notices for manual versions are POSTed; unset: they are logged. */
  MPU_NOTIFY_WEBHOOK_URL: z
    .string()
    .url()
    .refine((u) => /^https?:/.test(u), 'must be an http(s) URL')
    .optional(),
  /** Deploy event body limit, bytes. */
  MPU_WEBHOOK_BODY_LIMIT: int(1_048_576),
  MPU_POLL_INTERVAL: duration('5h'),
  /** node-cron pattern of scheduler ticks (each tick enqueues the polls that are due). */
  MPU_SCHEDULER_CRON: z.string().default('*/30 * * * * *'),
  MPU_POLL_CONCURRENCY: int(50),
  /** Apps per scheduled poll job (a chunk of a tick's due apps, claimed and versioned together). */
  MPU_POLL_BATCH_SIZE: int(250),
  MPU_POLL_ATTEMPTS: int(4),
  MPU_POLL_BACKOFF: duration('30s'),
  MPU_VERSION_CONCURRENCY: int(4),
  /**
   * BullMQ lock of an active job (every worker): how long a job of a daemon that died (SIGKILL)
   * waits before another daemon takes it over.
   */
  MPU_JOB_LOCK: duration('30s'),
  /** How often workers look for jobs whose lock expired (BullMQ stalled check). */
  MPU_STALLED_INTERVAL: duration('30s'),
  /**
   * Clock ms per real ms, for demos and tests of many daemons: the daemon runs on a scaled clock
   * (3600: one simulated hour per second) and converts its job delays with it. 1 in production.
   */
  MPU_TIME_SCALE: z.coerce.number().min(1).max(1_000_000).default(1),
  /**
   * With MPU_TIME_SCALE: the real instant (epoch ms) at which the scaled clock reads real time,
   * so that daemons started at different moments share one clock. @defaultValue the daemon's start
   */
  MPU_TIME_EPOCH: z.coerce.number().int().min(0).optional(),
  /** CIDRs that descriptor fetches may reach although not public, e.g. `127.0.0.1/32`. */
  MPU_FETCH_ALLOW_NETWORKS: list,
  /** Ports allowed besides 80, 443, 8080. */
  MPU_FETCH_EXTRA_PORTS: list,
  MPU_FETCH_MAX_BYTES: int(1_048_576),
  MPU_FETCH_MAX_REDIRECTS: int(3, 0),
  MPU_FETCH_CONNECT_TIMEOUT: duration('5s'),
  MPU_FETCH_HEADERS_TIMEOUT: duration('10s'),
  MPU_FETCH_BODY_TIMEOUT: duration('10s'),
  MPU_FETCH_TOTAL_TIMEOUT: duration('30s'),
});

/** Token names: what the audit trail records as the actor. */
const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** Shortest token accepted: 24 characters (e.g. `openssl rand -hex 16` gives 32). */
export const MIN_TOKEN_LENGTH = 24;

/** A named API token. `name` is recorded by the audit trail; `token` is never logged. */
export interface NamedToken {
  name: string;
  token: string;
}

/**
 * Parses `name:token,name:token` (MPU_OPERATOR_TOKENS, MPU_VIEWER_TOKENS): names are 1–64 of
 * letters, digits and `._@-`; tokens have ≥ MIN_TOKEN_LENGTH characters and no spaces or commas.
 * Problems name the entry by its position and name, never by its token.
 */
export function parseTokens(variable: string, text: string | undefined): { tokens: NamedToken[]; problems: string[] } {
  const tokens: NamedToken[] = [];
  const problems: string[] = [];
  const entries = (text ?? '').split(',').map((e) => e.trim());
  entries.forEach((entry, i) => {
    if (entry === '') {
      if (entries.length > 1) problems.push(`entry ${i + 1} is empty`);
      return;
    }
    const colon = entry.indexOf(':');
    const name = colon < 0 ? entry : entry.slice(0, colon);
    const token = colon < 0 ? '' : entry.slice(colon + 1);
    const label = TOKEN_NAME.test(name) ? `'${name}'` : `entry ${i + 1}`;
    if (colon < 0) problems.push(`${label}: write name:token`);
    else if (!TOKEN_NAME.test(name)) problems.push(`${label}: name must be 1-64 letters, digits or ._@- characters`);
    else if (token.length < MIN_TOKEN_LENGTH)
      problems.push(`${label}: token has fewer than ${MIN_TOKEN_LENGTH} characters`);
    else if (/\s/.test(token)) problems.push(`${label}: token contains white space`);
    else tokens.push({ name, token });
  });
  return { tokens, problems: problems.map((p) => `${variable}: ${p}`) };
}

/** The validated, frozen configuration. Durations in ms, sizes in bytes. */
export interface Config {
  /** REDIS_URL (also set, unused, when `redis` is a cluster). */
  redisUrl: string;
  /** Where Redis is: REDIS_CLUSTER_NODES when set, else REDIS_URL. */
  redis: RedisTarget;
  /** Prefix of store keys (MPU_PREFIX without braces, see `prefixesOf`). */
  prefix: string;
  /** BullMQ `prefix` of the queues (see `prefixesOf`). */
  queuePrefix: string;
  host: string;
  port: number;
  logLevel: string;
  webhookSecret: string | undefined;
  /** Operator tokens (full control, bull-board); the HTTP API does not start without one. */
  operatorTokens: readonly NamedToken[];
  /** Viewer tokens (read-only). */
  viewerTokens: readonly NamedToken[];
  /**
   * Approval-link secret: MPU_APPROVAL_SECRET, else derived from MPU_WEBHOOK_SECRET
   * (`deriveApprovalSecret`), else undefined (notices then carry no links).
   */
  approvalSecret: string | undefined;
  /** Base URL of approval links. */
  publicUrl: string;
  approvalLinkTtlMs: number;
  /** The Connect to Forge adoption window (rollout policy `adoptionWindowMs`). */
  adoptionWindowMs: number;
  /** How long an automatic Forge version takes to reach every installation, ms (rollout policy `forgeSpreadMs`; 0: at once). */
  forgeSpreadMs: number;
  /** Per-client-IP limits of the routes reachable without an operator token, per `windowMs`. */
  rateLimit: { deployMax: number; approvalMax: number; windowMs: number };
  auditMaxLen: number;
  /** Global limit of running bulk upgrades. */
  bulkUpgradeLimit: number;
  /** Retention of a finished bulk upgrade's record, ms. */
  bulkUpgradeRetentionMs: number;
  /** Interval of approval reminders, ms. */
  approvalReminderIntervalMs: number;
  /** Interval of the reconciliation sweep, and its grace, ms. */
  reconcileIntervalMs: number;
  reconcileGraceMs: number;
  /** Error budget of a rollout: failures tolerated, `max(count, ratio × upgraded)`. */
  errorBudgetCount: number;
  errorBudgetRatio: number;
  /** Longest total pause of a phased release, ms. */
  phasedPauseCapMs: number;
  /** Admin notification webhook (manual versions); undefined: notices are logged. */
  notifyWebhookUrl: string | undefined;
  webhookBodyLimit: number;
  pollIntervalMs: number;
  schedulerCron: string;
  pollConcurrency: number;
  pollBatchSize: number;
  pollAttempts: number;
  pollBackoffMs: number;
  versionConcurrency: number;
  /** BullMQ job lock and stalled-check interval of every worker, real ms. */
  jobLockMs: number;
  stalledIntervalMs: number;
  /** Clock ms per real ms (MPU_TIME_SCALE), and the real epoch ms at which the clock reads real time. */
  timeScale: number;
  timeEpoch: number | undefined;
  /** The fetcher's policy (see FetchPolicy), plus the allow-list as written. */
  fetch: Omit<FetchPolicy, 'userAgent' | 'allowedPorts'> & { allowedPorts: number[]; allowNetworks: string[] };
}

/**
 * Validates `env` (e.g. `process.env`).
 * @throws AppError config-invalid listing every problem (`details.issues`: `{ variable, problem }[]`).
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const clean = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const r = Env.safeParse(clean);
  const issues: { variable: string; problem: string }[] = [];
  if (!r.success)
    for (const i of r.error.issues) issues.push({ variable: String(i.path[0] ?? '?'), problem: i.message });
  // Parsed from the raw text so their problems are reported even when other variables fail.
  const split = (v: string | undefined) =>
    (v ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  const allow = parseAllowList(split(clean.MPU_FETCH_ALLOW_NETWORKS));
  for (const bad of allow.invalid)
    issues.push({ variable: 'MPU_FETCH_ALLOW_NETWORKS', problem: `'${bad}' is not a CIDR or address` });
  const extraPorts = split(clean.MPU_FETCH_EXTRA_PORTS).map(Number);
  for (const p of extraPorts) {
    if (!Number.isInteger(p) || p < 1 || p > 65535)
      issues.push({ variable: 'MPU_FETCH_EXTRA_PORTS', problem: `'${p}' is not a port` });
  }
  if (clean.MPU_ADMIN_TOKEN !== undefined)
    issues.push({
      variable: 'MPU_ADMIN_TOKEN',
      problem: 'replaced by MPU_OPERATOR_TOKENS=name:token (bull-board takes operator tokens)',
    });
  const operators = parseTokens('MPU_OPERATOR_TOKENS', clean.MPU_OPERATOR_TOKENS);
  const viewers = parseTokens('MPU_VIEWER_TOKENS', clean.MPU_VIEWER_TOKENS);
  for (const [variable, p] of [
    ['MPU_OPERATOR_TOKENS', operators.problems],
    ['MPU_VIEWER_TOKENS', viewers.problems],
  ] as const)
    for (const problem of p) issues.push({ variable, problem: problem.slice(variable.length + 2) });
  const all = [...operators.tokens, ...viewers.tokens];
  const seenNames = new Set<string>();
  const seenTokens = new Set<string>();
  for (const t of all) {
    if (seenNames.has(t.name))
      issues.push({
        variable: 'MPU_OPERATOR_TOKENS',
        problem: `name '${t.name}' is given twice (names must be unique)`,
      });
    if (seenTokens.has(t.token))
      issues.push({ variable: 'MPU_OPERATOR_TOKENS', problem: `'${t.name}' reuses another entry's token` });
    seenNames.add(t.name);
    seenTokens.add(t.token);
  }
  if (!r.success || issues.length) {
    throw new AppError(
      ErrorCode.CONFIG_INVALID,
      'invalid configuration: ' + issues.map((i) => `${i.variable}: ${i.problem}`).join('; '),
      {
        details: { issues },
      },
    );
  }
  const d = r.data;
  const config: Config = {
    redisUrl: d.REDIS_URL,
    redis: d.REDIS_CLUSTER_NODES ? { clusterNodes: d.REDIS_CLUSTER_NODES } : { url: d.REDIS_URL },
    ...prefixesOf(d.MPU_PREFIX, d.REDIS_CLUSTER_NODES !== undefined),
    host: d.HOST,
    port: d.PORT,
    logLevel: d.LOG_LEVEL,
    webhookSecret: d.MPU_WEBHOOK_SECRET,
    operatorTokens: Object.freeze(operators.tokens),
    viewerTokens: Object.freeze(viewers.tokens),
    approvalSecret:
      d.MPU_APPROVAL_SECRET ?? (d.MPU_WEBHOOK_SECRET ? deriveApprovalSecret(d.MPU_WEBHOOK_SECRET) : undefined),
    publicUrl: (d.MPU_PUBLIC_URL ?? `http://${d.HOST.includes(':') ? `[${d.HOST}]` : d.HOST}:${d.PORT}`).replace(
      /\/+$/,
      '',
    ),
    approvalLinkTtlMs: d.MPU_APPROVAL_LINK_TTL,
    adoptionWindowMs: d.MPU_ADOPTION_WINDOW,
    forgeSpreadMs: d.MPU_FORGE_SPREAD,
    rateLimit: {
      deployMax: d.MPU_DEPLOY_RATE_LIMIT,
      approvalMax: d.MPU_APPROVAL_RATE_LIMIT,
      windowMs: d.MPU_RATE_LIMIT_WINDOW,
    },
    auditMaxLen: d.MPU_AUDIT_MAX_LEN,
    bulkUpgradeLimit: d.MPU_BULK_UPGRADE_LIMIT,
    bulkUpgradeRetentionMs: d.MPU_BULK_UPGRADE_RETENTION,
    approvalReminderIntervalMs: d.MPU_APPROVAL_REMINDER_INTERVAL,
    reconcileIntervalMs: d.MPU_RECONCILE_INTERVAL,
    reconcileGraceMs: d.MPU_RECONCILE_GRACE,
    errorBudgetCount: d.MPU_ERROR_BUDGET_COUNT,
    errorBudgetRatio: d.MPU_ERROR_BUDGET_RATIO,
    phasedPauseCapMs: d.MPU_PHASED_PAUSE_CAP,
    notifyWebhookUrl: d.MPU_NOTIFY_WEBHOOK_URL,
    webhookBodyLimit: d.MPU_WEBHOOK_BODY_LIMIT,
    pollIntervalMs: d.MPU_POLL_INTERVAL,
    schedulerCron: d.MPU_SCHEDULER_CRON,
    pollConcurrency: d.MPU_POLL_CONCURRENCY,
    pollBatchSize: d.MPU_POLL_BATCH_SIZE,
    pollAttempts: d.MPU_POLL_ATTEMPTS,
    pollBackoffMs: d.MPU_POLL_BACKOFF,
    versionConcurrency: d.MPU_VERSION_CONCURRENCY,
    jobLockMs: d.MPU_JOB_LOCK,
    stalledIntervalMs: d.MPU_STALLED_INTERVAL,
    timeScale: d.MPU_TIME_SCALE,
    timeEpoch: d.MPU_TIME_EPOCH,
    fetch: {
      allowList: allow.list,
      allowNetworks: d.MPU_FETCH_ALLOW_NETWORKS,
      allowedPorts: [...DEFAULT_ALLOWED_PORTS, ...extraPorts],
      maxBytes: d.MPU_FETCH_MAX_BYTES,
      maxRedirects: d.MPU_FETCH_MAX_REDIRECTS,
      connectTimeoutMs: d.MPU_FETCH_CONNECT_TIMEOUT,
      headersTimeoutMs: d.MPU_FETCH_HEADERS_TIMEOUT,
      bodyTimeoutMs: d.MPU_FETCH_BODY_TIMEOUT,
      totalTimeoutMs: d.MPU_FETCH_TOTAL_TIMEOUT,
    },
  };
  return Object.freeze(config);
}

/**
 * What the HTTP API needs beyond `loadConfig`'s checks: the deploy-event secret and an operator
 * token (an API nobody may operate would expose nothing but an anonymous deploy intake).
 * @throws AppError config-invalid listing every missing setting (`details.issues`)
 */
export function checkHttpConfig(config: Config): void {
  const issues: { variable: string; problem: string }[] = [];
  if (!config.webhookSecret)
    issues.push({ variable: 'MPU_WEBHOOK_SECRET', problem: 'required (≥ 16 characters) to run the HTTP API' });
  if (config.operatorTokens.length === 0)
    issues.push({
      variable: 'MPU_OPERATOR_TOKENS',
      problem: `required (name:token, token ≥ ${MIN_TOKEN_LENGTH} characters) to run the HTTP API`,
    });
  if (issues.length)
    throw new AppError(
      ErrorCode.CONFIG_INVALID,
      'invalid configuration: ' +
        issues.map((i) => `${i.variable}: ${i.problem}`).join('; ') +
        ' (or run with --no-http)',
      { details: { issues } },
    );
}
