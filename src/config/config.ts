/**
 * Daemon configuration from the environment (STYLE.md "Config"): one zod
 * schema with its defaults; `loadConfig(env)` reports every problem at once as
 * `AppError('config-invalid')` and returns a frozen object. Only src/main.ts passes
 * `process.env`; tests pass plain objects.
 */
import { z } from 'zod';
import { AppError, ErrorCode } from '../lib/errors.js';
import { DEFAULT_ALLOWED_PORTS, parseAllowList } from '../poller/address-policy.js';
import type { FetchPolicy } from '../poller/descriptor-fetcher.js';

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

const Env = z.object({
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /** Prefix of store keys and BullMQ queues. */
  MPU_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only (no ":")')
    .default('mpu'),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** HMAC secret of Forge deploy events; the HTTP API refuses to start without one. */
  MPU_WEBHOOK_SECRET: z.string().min(16, 'at least 16 characters').optional(),
  /** Bearer token of /admin/queues; bull-board is off without one. */
  MPU_ADMIN_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
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

/** The validated, frozen configuration. Durations in ms, sizes in bytes. */
export interface Config {
  redisUrl: string;
  prefix: string;
  host: string;
  port: number;
  logLevel: string;
  webhookSecret: string | undefined;
  adminToken: string | undefined;
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
    prefix: d.MPU_PREFIX,
    host: d.HOST,
    port: d.PORT,
    logLevel: d.LOG_LEVEL,
    webhookSecret: d.MPU_WEBHOOK_SECRET,
    adminToken: d.MPU_ADMIN_TOKEN,
    notifyWebhookUrl: d.MPU_NOTIFY_WEBHOOK_URL,
    webhookBodyLimit: d.MPU_WEBHOOK_BODY_LIMIT,
    pollIntervalMs: d.MPU_POLL_INTERVAL,
    schedulerCron: d.MPU_SCHEDULER_CRON,
    pollConcurrency: d.MPU_POLL_CONCURRENCY,
    pollBatchSize: d.MPU_POLL_BATCH_SIZE,
    pollAttempts: d.MPU_POLL_ATTEMPTS,
    pollBackoffMs: d.MPU_POLL_BACKOFF,
    versionConcurrency: d.MPU_VERSION_CONCURRENCY,
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
