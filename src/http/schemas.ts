/**
 * The zod schemas of the HTTP API's requests and answers, shared by the routes (validation,
 * serialization through `fastify-type-provider-zod`) and the OpenAPI document (openapi.ts).
 * Answers are loose objects: they name and type what clients read, and pass through any other
 * field a use case returns, so documenting a record never drops a field from the JSON.
 */
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ErrorCode } from '../lib/errors.js';

/**
 * Makes `app` validate requests and serialize answers with the routes' zod schemas. Call before
 * registering routes (buildApp does; a test that mounts routes on its own Fastify too).
 */
export function installSchemaCompilers(app: FastifyInstance): void {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
}

/**
 * A route's validator compiler for schemas that are documentation only: the route validates in
 * its handler because its failures say more than a schema's (the deploy intake checks the
 * signature over the raw body first; an approval link's bad query is a 401, not a 400;
 * installations are named by their position in the body).
 */
export const documentedOnly: FastifySchemaCompiler<unknown> = () => (value) => ({ value });

/** The error body of every 4xx/5xx answer (error-handler.ts, auth.ts). */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().meta({
        description: 'A code of the error catalogue (README "Errors"), `internal`, or a Fastify `FST_…` code',
        examples: Object.values(ErrorCode),
      }),
      message: z.string(),
      details: z.record(z.string(), z.unknown()),
    }),
  })
  .meta({ id: 'Error' });

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'The request is not valid (`input-invalid`, `payload-invalid`, or Fastify’s own)',
  401: 'No or unknown credentials (`unauthorized`)',
  403: 'The credentials do not allow this (`forbidden`; installs: `install-link-invalid`, `install-refused`, `install-blocked`)',
  404: 'Not found (`app-not-found`, `installation-not-found`, `version-not-found`, `rollout-not-found`, `bulk-upgrade-not-found`, `site-not-found`)',
  409: 'Conflict with the current state',
  413: 'Body too large',
  415: 'Unsupported content type',
  422: 'Well-formed but unusable (`descriptor-invalid`)',
  429: 'Rate-limited (`rate-limited`; see `Retry-After`)',
  500: 'Internal error',
  503: 'Redis does not answer (`store-unavailable`)',
};

/** Error answers of a route: `{ error: { code, message, details } }` for each status. */
export function errorResponses(...statuses: number[]): Record<number, z.ZodType> {
  return Object.fromEntries(
    statuses.map((s) => [s, ErrorBody.describe(ERROR_DESCRIPTIONS[s] ?? 'Error')] as const),
  ) as Record<number, z.ZodType>;
}

/**
 * An object schema that passes through fields it does not name (`z.looseObject`), typed without
 * an index signature so the use cases' interfaces satisfy it as they are.
 */
export function open<T extends z.ZodRawShape>(shape: T): z.ZodObject<T> {
  return z.looseObject(shape) as unknown as z.ZodObject<T>;
}

/** Errors every viewer route may answer. */
export const VIEWER_ERRORS = [401, 500, 503] as const;
/** Errors every operator route may answer. */
export const OPERATOR_ERRORS = [401, 403, 500, 503] as const;

/** An epoch-ms time. */
const epochMs = z.number().meta({ description: 'epoch ms' });

/** A registered app (`AppRecord`). */
export const AppSchema = open({
  id: z.string(),
  kind: z.enum(['connect', 'forge']),
  descriptorUrl: z.string().optional(),
  status: z.enum(['active', 'failing']),
  createdAt: epochMs,
  lastPollAt: epochMs.optional(),
  lastPollOutcome: z.string().optional(),
  consecutiveFailures: z.number(),
  totalFailures: z.number(),
  lastError: z.string().optional(),
  latestVersion: z.string().optional(),
}).meta({ id: 'App' });

/** A published version of an app (`VersionRecord`). */
export const VersionSchema = open({
  appId: z.string(),
  kind: z.enum(['connect', 'forge']),
  version: z.string(),
  bump: z.enum(['major', 'minor', 'micro', 'none', 'initial']),
  approval: z.enum(['automatic', 'manual']),
  reasons: z.array(open({ rule: z.string() })).optional(),
  warnings: z.array(open({ code: z.string() })).optional(),
  descriptorHash: z.string().optional(),
  source: z.enum(['poll', 'deploy', 'cli']).optional(),
  detectedAt: epochMs,
  deploymentId: z.string().optional(),
}).meta({ id: 'Version' });

const MaintenanceSchema = open({
  timeZone: z.string(),
  weekly: z.array(open({ day: z.number(), start: z.string(), minutes: z.number() })),
  adHoc: z.array(open({ start: epochMs, end: epochMs })),
});

/** An installation as stored (`Installation`). */
export const InstallationSchema = open({
  id: z.string(),
  appId: z.string(),
  site: z.string(),
  products: z.array(z.string()),
  version: z.string(),
  checkOffsetMs: z.number().meta({ description: 'daily update check, ms after 00:00 UTC' }),
  maintenance: MaintenanceSchema.nullable(),
  admins: z
    .array(z.string())
    .optional()
    .meta({ description: "its admins' addresses (one approval notice each); absent: its site's admins" }),
}).meta({ id: 'Installation' });

/** An installation with its approvals, "update available" and history (`InstallationView`). */
export const InstallationViewSchema = InstallationSchema.extend({
  approvedUpTo: z.string().nullable(),
  updateAvailable: z.string().nullable(),
  forgeAppLink: z
    .string()
    .nullable()
    .optional()
    .meta({ description: 'Connect: "Get the Forge app", the forgeAppLink of the descriptor of the version it runs' }),
  history: z.array(
    open({
      at: epochMs,
      kind: z.enum(['registered', 'upgraded', 'approved', 'update-available', 'moved', 'deferred']),
    }),
  ),
}).meta({ id: 'InstallationView' });

/** What an approval did (`ApprovalResult`). */
export const ApprovalResultSchema = open({
  appId: z.string(),
  installationId: z.string(),
  current: z.string(),
  approvedUpTo: z.string(),
  approvedVersions: z.array(z.string()),
  target: z.string().nullable(),
  upgradeAt: epochMs.nullable(),
}).meta({ id: 'ApprovalResult' });

/** A rollout with its live progress (`RolloutView`). */
export const RolloutSchema = open({
  id: z.string(),
  appId: z.string(),
  version: z.string(),
  kind: z.enum(['connect', 'forge']),
  approval: z.enum(['automatic', 'manual']),
  status: z.string(),
  publishedAt: epochMs,
  createdAt: epochMs,
  plannedAt: epochMs.nullable(),
  summary: open({
    total: z.number(),
    upgrades: z.number(),
    notifies: z.number(),
    upToDate: z.number(),
    blocked: z.number(),
  })
    .nullable()
    .meta({ description: 'The plan, once planned' }),
  supersededBy: z.string().nullable(),
  installations: z.number(),
  reached: z.number(),
  progressPercent: z.number(),
  complete: z.boolean(),
  failures: z.number().optional().meta({ description: 'Failed upgrades reported (the error budget)' }),
  pause: open({ at: epochMs, by: z.string(), reason: z.string() })
    .optional()
    .meta({ description: 'The pause in progress: when, by whom (`system`: the error budget) and why' }),
  phased: open({
    phase: z.number().meta({ description: 'Phase reached, 1-based' }),
    phases: z.number(),
    percent: z.number().meta({ description: 'Percentage of installations the phase releases to' }),
    cohortSize: z.number().meta({ description: 'Installations within that percentage when the phase was released' }),
    startedAt: epochMs,
    nextStepAt: epochMs.nullable().meta({ description: 'Next phase; null at the last phase or while paused' }),
    percents: z.array(z.number()),
    intervalMs: z.number(),
    pausedMs: z.number(),
    pauseCapAt: epochMs.nullable(),
  })
    .optional()
    .meta({ description: 'The phased release, when the rollout has one' }),
}).meta({ id: 'Rollout' });

/** A phase schedule: a preset name, or percentages and an interval (rollout/phased-release.ts). */
export const PhaseScheduleBody = z.union([
  open({ preset: z.enum(['apple', 'forge']) }),
  open({
    percents: z.array(z.number()).min(1).max(100),
    intervalMs: z.number().int(),
  }),
]);

/** How many installations of an app run each version. */
export const DistributionSchema = open({
  appId: z.string(),
  total: z.number(),
  versions: z.array(open({ version: z.string(), count: z.number(), percent: z.number() })),
});

/** One audit trail entry (`AuditEntry`). */
export const AuditEntrySchema = open({
  id: z.string(),
  at: z.string(),
  atMs: epochMs,
  actor: z.string(),
  action: z.string(),
  target: open({ app: z.string().optional(), version: z.string().optional(), installation: z.string().optional() }),
  requestId: z.string(),
  outcome: z.string(),
}).meta({ id: 'AuditEntry' });

/** Paging of a list. */
export const PagingQuery = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** `:appId` (URL-encoded). */
export const AppParams = z.object({ appId: z.string().meta({ description: 'app id, URL-encoded' }) });
