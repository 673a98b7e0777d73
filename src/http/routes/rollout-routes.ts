/**
 * Operator API for installations, approvals and rollouts, registered by buildApp:
 * - `POST /v1/installations` (one object or an array, ≤ 10,000; all validated before any is
 *   stored) → `{ created, updated }`
 * - `GET /v1/installations/:id` → installation with approvals, "update available" and history
 * - `POST /v1/installations/:id/approve` `{ version? }` → 202 `ApprovalResult`
 * - `GET /v1/apps/:appId/installations?offset=&limit=` · `GET /v1/apps/:appId/distribution`
 * - `GET /v1/rollouts?app=&limit=` · `GET /v1/rollouts/:appId/:version`
 * - `POST /v1/rollouts/:appId/:version/pause|resume|halt|advance|complete` (advance and complete:
 *   a phased release's next phase, or `{ "phase": N }`, and "release to all")
 * - `PUT /v1/rollouts/:appId/:version/phased-release` `{ preset } | { percents, intervalMs }`
 * - `POST /v1/installations/:id/failures` `{ version?, reason? }`: a failed upgrade (error budget)
 * GETs need a viewer token, POSTs an operator token (auth.ts); each POST leaves an audit entry.
 * Errors are AppErrors, mapped to statuses by the app's error handler (error-handler.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, ErrorCode } from '../../lib/errors.js';
import { InstallationInput } from '../../rollout/installation-input.js';
import type { HttpContext } from '../http-context.js';
import { approveInstallation, registerInstallations, showInstallation } from '../../app/rollout/installations.js';
import { controlRollout, listRollouts, showRollout, versionDistribution } from '../../app/rollout/rollouts.js';
import { advancePhases, phaseRollout, reportFailure } from '../../app/rollout/phased-release.js';
import {
  AppParams,
  ApprovalResultSchema,
  DistributionSchema,
  InstallationSchema,
  InstallationViewSchema,
  OPERATOR_ERRORS,
  PagingQuery,
  PhaseScheduleBody,
  RolloutSchema,
  VIEWER_ERRORS,
  documentedOnly,
  errorResponses,
  open,
} from '../schemas.js';

const ApproveBody = z
  .object({
    version: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'Approve up to this version; default: the newest published' }),
  })
  .nullish();
const RolloutQuery = z.object({
  app: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
const Action = z.enum(['pause', 'resume', 'halt', 'advance', 'complete']);
const AdvanceBody = z
  .object({
    phase: z.number().int().min(2).optional().meta({
      description: 'advance: the phase to reach, 1-based (a retried request then changes nothing); default: the next',
    }),
  })
  .nullish();
const FailureBody = z
  .object({
    version: z
      .string()
      .min(1)
      .optional()
      .meta({ description: "The rollout's version; default: the version the installation runs" }),
    reason: z.string().max(500).optional(),
  })
  .nullish();
const InstallationParams = z.object({ id: z.string() });
const RolloutParams = z.object({ appId: z.string(), version: z.string() });
// The action is checked in the handler, whose message names the choices; the schema lists them.
const ActionParams = RolloutParams.extend({ action: z.string().meta({ enum: Action.options }) });

/** Registers the routes on the process's context (its time scale, policy and queues). */
export async function registerRolloutRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  app.post(
    '/v1/installations',
    {
      bodyLimit: 50 * 1024 * 1024,
      config: { audit: 'installation.register' },
      schema: {
        tags: ['installations'],
        summary: 'Register installations (one or an array of up to 10,000; all valid or none stored)',
        body: z.union([InstallationInput, z.array(InstallationInput).min(1).max(10_000)]),
        response: {
          200: open({ created: z.number(), updated: z.number() }),
          ...errorResponses(400, 413, ...OPERATOR_ERRORS),
        },
      },
      // Validated in the handler: every problem is reported at once, named by its position.
      validatorCompiler: documentedOnly,
    },
    async (req) => {
      const body = req.body;
      const list = Array.isArray(body) ? body : [body];
      const appIds = new Set(list.map((i) => (i as { appId?: unknown } | null)?.appId));
      const [onlyApp] = appIds;
      req.auditTarget = {
        count: list.length,
        ...(appIds.size === 1 && typeof onlyApp === 'string' ? { app: onlyApp } : {}),
      };
      if (list.length === 0 || list.length > 10_000)
        throw new AppError(ErrorCode.INPUT_INVALID, 'send one installation or an array of 1 to 10,000');
      return registerInstallations(ctx, list, (i) => (Array.isArray(body) ? `body[${i}]` : 'body'));
    },
  );
  r.get(
    '/v1/installations/:id',
    {
      schema: {
        tags: ['installations'],
        summary: 'One installation with its approvals, "update available" and history',
        params: InstallationParams,
        response: { 200: InstallationViewSchema, ...errorResponses(404, ...VIEWER_ERRORS) },
      },
    },
    async (req) => showInstallation(ctx, req.params.id),
  );
  r.post(
    '/v1/installations/:id/approve',
    {
      config: { audit: 'installation.approve' },
      schema: {
        tags: ['installations'],
        summary: 'Approve a manual version for one installation, as its admins would',
        params: InstallationParams,
        body: ApproveBody,
        response: { 202: ApprovalResultSchema, ...errorResponses(400, 404, 409, ...OPERATOR_ERRORS) },
      },
    },
    async (req, reply) => {
      req.auditTarget = { installation: req.params.id };
      const body = req.body;
      if (body?.version) req.auditTarget.version = body.version;
      const result = await approveInstallation(ctx, req.params.id, body?.version);
      req.auditTarget = { installation: req.params.id, app: result.appId, version: result.approvedUpTo };
      return reply.status(202).send(result);
    },
  );
  r.get(
    '/v1/apps/:appId/installations',
    {
      schema: {
        tags: ['installations'],
        summary: "An app's installations, in registration order",
        params: AppParams,
        querystring: PagingQuery,
        response: {
          200: open({
            appId: z.string(),
            total: z.number(),
            offset: z.number(),
            installations: z.array(InstallationSchema),
          }),
          ...errorResponses(400, ...VIEWER_ERRORS),
        },
      },
    },
    async (req) => {
      const { offset, limit } = req.query;
      const [total, installations] = await Promise.all([
        ctx.installs.count(req.params.appId),
        ctx.installs.list(req.params.appId, offset, limit),
      ]);
      return { appId: req.params.appId, total, offset, installations };
    },
  );
  r.get(
    '/v1/apps/:appId/distribution',
    {
      schema: {
        tags: ['installations'],
        summary: 'How many installations run each version, newest first',
        params: AppParams,
        response: { 200: DistributionSchema, ...errorResponses(...VIEWER_ERRORS) },
      },
    },
    async (req) => versionDistribution(ctx, req.params.appId),
  );
  r.get(
    '/v1/rollouts',
    {
      schema: {
        tags: ['rollouts'],
        summary: 'Rollouts with live progress, newest first',
        querystring: RolloutQuery,
        response: {
          200: z.object({ rollouts: z.array(RolloutSchema) }),
          ...errorResponses(400, ...VIEWER_ERRORS),
        },
      },
    },
    async (req) => ({ rollouts: await listRollouts(ctx, { appId: req.query.app, limit: req.query.limit }) }),
  );
  r.get(
    '/v1/rollouts/:appId/:version',
    {
      schema: {
        tags: ['rollouts'],
        summary: 'One rollout with progress and its planned buckets',
        params: RolloutParams,
        response: {
          200: RolloutSchema.extend({
            buckets: z.array(open({ kind: z.string(), at: z.number(), size: z.number() })),
          }),
          ...errorResponses(404, ...VIEWER_ERRORS),
        },
      },
    },
    async (req) => showRollout(ctx, req.params.appId, req.params.version),
  );
  r.post(
    '/v1/rollouts/:appId/:version/:action',
    {
      config: {
        // An unknown action is refused before anything is attempted: nothing to record.
        audit: (req) => {
          const a = Action.safeParse((req.params as { action?: string }).action);
          return a.success ? (`rollout.${a.data}` as const) : undefined;
        },
      },
      schema: {
        tags: ['rollouts'],
        summary:
          'Pause, resume or halt a rollout (halt is final); advance a phased release to its next phase, or complete it (release to all)',
        params: ActionParams,
        body: AdvanceBody,
        response: { 200: RolloutSchema, ...errorResponses(400, 404, 409, ...OPERATOR_ERRORS) },
      },
    },
    async (req) => {
      const { appId, version } = req.params;
      req.auditTarget = { app: appId, version };
      const action = parse(Action, req.params.action, 'action (pause, resume, halt, advance or complete)');
      if (action === 'advance' || action === 'complete') {
        const to = req.body?.phase;
        await advancePhases(ctx, appId, version, { mode: action, ...(to !== undefined ? { to: to - 1 } : {}) });
        return showRollout(ctx, appId, version);
      }
      return controlRollout(ctx, appId, version, action, req.actor);
    },
  );
  r.put(
    '/v1/rollouts/:appId/:version/phased-release',
    {
      config: { audit: 'rollout.phase' },
      schema: {
        tags: ['rollouts'],
        summary: 'Give a rollout in flight a phased release (its first phase starts now)',
        params: RolloutParams,
        body: PhaseScheduleBody,
        response: { 200: RolloutSchema, ...errorResponses(400, 404, 409, ...OPERATOR_ERRORS) },
      },
    },
    async (req) => {
      const { appId, version } = req.params;
      req.auditTarget = { app: appId, version };
      const b = req.body as { preset?: string; percents?: number[]; intervalMs?: number };
      await phaseRollout(ctx, appId, version, b.preset ?? { percents: b.percents, intervalMs: b.intervalMs });
      return showRollout(ctx, appId, version);
    },
  );
  r.post(
    '/v1/installations/:id/failures',
    {
      config: { audit: 'rollout.report-failure' },
      schema: {
        tags: ['installations'],
        summary:
          'Report a failed upgrade of an installation (once per installation and version); past the error budget the rollout pauses itself',
        params: InstallationParams,
        body: FailureBody,
        response: {
          200: open({
            appId: z.string(),
            version: z.string(),
            installationId: z.string(),
            recorded: z.boolean(),
            failures: z.number(),
            upgraded: z.number(),
            budget: z.number(),
            paused: z.boolean(),
            status: z.string(),
            reason: z.string(),
          }),
          ...errorResponses(400, 404, ...OPERATOR_ERRORS),
        },
      },
    },
    async (req) => {
      req.auditTarget = { installation: req.params.id };
      const body = req.body;
      const r = await reportFailure(ctx, {
        installationId: req.params.id,
        ...(body?.version ? { version: body.version } : {}),
        ...(body?.reason ? { reason: body.reason } : {}),
        by: req.actor,
      });
      req.auditTarget = {
        installation: req.params.id,
        app: r.appId,
        version: r.version,
        ...(body?.reason ? { reason: body.reason } : {}),
      };
      return r;
    },
  );
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `${what}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  return r.data;
}
