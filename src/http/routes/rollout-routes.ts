/**
 * Operator API for installations, approvals and rollouts, registered by buildApp:
 * - `POST /v1/installations` (one object or an array, ≤ 10,000; all validated before any is
 *   stored) → `{ created, updated }`
 * - `GET /v1/installations/:id` → installation with approvals, "update available" and history
 * - `POST /v1/installations/:id/approve` `{ version? }` → 202 `ApprovalResult`
 * - `GET /v1/apps/:appId/installations?offset=&limit=` · `GET /v1/apps/:appId/distribution`
 * - `GET /v1/rollouts?app=&limit=` · `GET /v1/rollouts/:appId/:version`
 * - `POST /v1/rollouts/:appId/:version/pause|resume|halt`
 * GETs need a viewer token, POSTs an operator token (auth.ts); each POST leaves an audit entry.
 * Errors are AppErrors, mapped to statuses by the app's error handler (error-handler.ts).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError, ErrorCode } from '../../lib/errors.js';
import type { HttpContext } from '../http-context.js';
import { approveInstallation, registerInstallations, showInstallation } from '../../app/rollout/installations.js';
import { controlRollout, listRollouts, showRollout, versionDistribution } from '../../app/rollout/rollouts.js';

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

const Paging = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
const ApproveBody = z.object({ version: z.string().min(1).optional() }).nullish();
const RolloutQuery = z.object({
  app: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
const Action = z.enum(['pause', 'resume', 'halt']);

/** Registers the routes on the process's context (its time scale, policy and queues). */
export async function registerRolloutRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  app.post(
    '/v1/installations',
    { bodyLimit: 50 * 1024 * 1024, config: { audit: 'installation.register' } },
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
  app.get<{ Params: { id: string } }>('/v1/installations/:id', async (req) => showInstallation(ctx, req.params.id));
  app.post<{ Params: { id: string } }>(
    '/v1/installations/:id/approve',
    { config: { audit: 'installation.approve' } },
    async (req, reply) => {
      req.auditTarget = { installation: req.params.id };
      const body = parse(ApproveBody, req.body ?? undefined, 'body');
      if (body?.version) req.auditTarget.version = body.version;
      const result = await approveInstallation(ctx, req.params.id, body?.version);
      req.auditTarget = { installation: req.params.id, app: result.appId, version: result.approvedUpTo };
      return reply.status(202).send(result);
    },
  );
  app.get<{ Params: { appId: string } }>('/v1/apps/:appId/installations', async (req) => {
    const { offset, limit } = parse(Paging, req.query, 'query');
    const [total, installations] = await Promise.all([
      ctx.installs.count(req.params.appId),
      ctx.installs.list(req.params.appId, offset, limit),
    ]);
    return { appId: req.params.appId, total, offset, installations };
  });
  app.get<{ Params: { appId: string } }>('/v1/apps/:appId/distribution', async (req) =>
    versionDistribution(ctx, req.params.appId),
  );
  app.get('/v1/rollouts', async (req) => {
    const q = parse(RolloutQuery, req.query, 'query');
    return { rollouts: await listRollouts(ctx, { appId: q.app, limit: q.limit }) };
  });
  app.get<{ Params: { appId: string; version: string } }>('/v1/rollouts/:appId/:version', async (req) =>
    showRollout(ctx, req.params.appId, req.params.version),
  );
  app.post<{ Params: { appId: string; version: string; action: string } }>(
    '/v1/rollouts/:appId/:version/:action',
    {
      config: {
        // An unknown action is refused before anything is attempted: nothing to record.
        audit: (req) => {
          const a = Action.safeParse((req.params as { action?: string }).action);
          return a.success ? (`rollout.${a.data}` as const) : undefined;
        },
      },
    },
    async (req) => {
      req.auditTarget = { app: req.params.appId, version: req.params.version };
      const action = parse(Action, req.params.action, 'action (pause, resume or halt)');
      return controlRollout(ctx, req.params.appId, req.params.version, action);
    },
  );
}
