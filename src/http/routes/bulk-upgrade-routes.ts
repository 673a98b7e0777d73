/**
 * Operator API of bulk major-version upgrades (src/app/rollout/bulk-upgrades.ts; DESIGN.md
 * "Distribution rules"), registered by buildApp:
 * - `POST /v1/apps/:appId/bulk-upgrades` `{ environment, from, to, installations?, dryRun? }` →
 *   201 the bulk upgrade (or 200 a dry run's report); the developer account is the token's name
 * - `GET /v1/apps/:appId/bulk-upgrades` → `{ appId, retentionMs, bulkUpgrades }`, newest first
 * - `POST /v1/bulk-upgrades/:id/cancel` → the cancelled bulk upgrade
 * POSTs need an operator token (auth.ts) and leave an audit entry; a refusal by the global limit
 * answers 409 with `Retry-After: 1800` (error-handler.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { HttpContext } from '../http-context.js';
import { cancelBulkUpgrade, listBulkUpgrades, startBulkUpgrade } from '../../app/rollout/bulk-upgrades.js';
import { OPERATOR_ERRORS, VIEWER_ERRORS, errorResponses, open } from '../schemas.js';

const BulkUpgradeSchema = open({
  id: z.string(),
  appId: z.string(),
  environment: z.string(),
  account: z.string(),
  status: z.enum(['running', 'completed', 'cancelled']),
  from: z.string().meta({ description: 'the source major’s newest version when it started' }),
  to: z.string().meta({ description: 'the version installations move to' }),
  fromMajor: z.number(),
  toMajor: z.number(),
  total: z.number(),
  completed: z.number(),
  pending: z.number(),
  failed: z.number(),
  failures: z.record(z.string(), z.number()).meta({ description: 'failed installations by reason' }),
  planned: z.boolean(),
  startedAt: z.string(),
  completedAt: z.string().nullable(),
  expiresAt: z.string().nullable().meta({ description: 'when a finished record is deleted' }),
}).meta({ id: 'BulkUpgrade' });

const DryRunSchema = open({
  dryRun: z.literal(true),
  appId: z.string(),
  from: z.string(),
  to: z.string(),
  wouldMove: z.number(),
  deferred: z.number(),
  wouldFail: z.array(open({ reason: z.string(), count: z.number(), words: z.string() })),
  refusedBy: z.string().nullable(),
}).meta({ id: 'BulkUpgradeDryRun' });

const StartBody = z.object({
  environment: z.string().min(1).meta({ description: 'Forge environment, e.g. production' }),
  from: z.number().int().min(0).meta({ description: 'source major version' }),
  to: z.number().int().min(0).meta({ description: 'target major version' }),
  installations: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .meta({ description: 'only these installations (any number); default: every one on the source major' }),
  dryRun: z.boolean().optional().meta({ description: 'report how many would move and why any would not' }),
});
const AppParam = z.object({ appId: z.string().meta({ description: 'app id (Forge ARI), URL-encoded' }) });
const IdParam = z.object({ id: z.string() });

/** Registers the routes on the process's context. */
export async function registerBulkUpgradeRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.post(
    '/v1/apps/:appId/bulk-upgrades',
    {
      bodyLimit: 64 * 1024 * 1024,
      config: { audit: 'bulk-upgrade.start' },
      schema: {
        tags: ['bulk-upgrades'],
        summary: 'Start a bulk major-version upgrade (or a dry run); the token’s name is the developer account',
        params: AppParam,
        body: StartBody,
        response: {
          200: DryRunSchema,
          201: BulkUpgradeSchema,
          ...errorResponses(400, 404, 409, ...OPERATOR_ERRORS),
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
      req.auditTarget = { app: req.params.appId, ...(b.installations ? { count: b.installations.length } : {}) };
      const res = await startBulkUpgrade(
        ctx,
        {
          appId: req.params.appId,
          environment: b.environment,
          from: b.from,
          to: b.to,
          installations: b.installations,
          account: req.actor,
        },
        { dryRun: b.dryRun },
      );
      if ('dryRun' in res) return reply.status(200).send(res);
      req.auditTarget.bulkUpgrade = res.id;
      return reply.status(201).send(res);
    },
  );
  r.get(
    '/v1/apps/:appId/bulk-upgrades',
    {
      schema: {
        tags: ['bulk-upgrades'],
        summary: "An app's bulk upgrades, newest first (finished ones are kept retentionMs after they finish)",
        params: AppParam,
        response: {
          200: open({ appId: z.string(), retentionMs: z.number(), bulkUpgrades: z.array(BulkUpgradeSchema) }),
          ...errorResponses(...VIEWER_ERRORS),
        },
      },
    },
    async (req) => listBulkUpgrades(ctx, req.params.appId),
  );
  r.post(
    '/v1/bulk-upgrades/:id/cancel',
    {
      config: { audit: 'bulk-upgrade.cancel' },
      schema: {
        tags: ['bulk-upgrades'],
        summary: 'Cancel a running bulk upgrade (pending installations stay; moved ones stay moved)',
        params: IdParam,
        response: { 200: BulkUpgradeSchema, ...errorResponses(404, 409, ...OPERATOR_ERRORS) },
      },
    },
    async (req) => {
      req.auditTarget = { bulkUpgrade: req.params.id };
      const res = await cancelBulkUpgrade(ctx, req.params.id);
      req.auditTarget.app = res.appId;
      return res;
    },
  );
}
