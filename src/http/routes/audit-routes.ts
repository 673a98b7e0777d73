/**
 * `GET /v1/audit?app=&limit=` (viewer): the audit trail, newest first (src/store/audit-store.ts).
 * `limit` 1–1,000, default 100; `app` keeps the entries about that app.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditStore } from '../../store/audit-store.js';
import { AuditEntrySchema, VIEWER_ERRORS, errorResponses } from '../schemas.js';

const AuditQuery = z.object({
  app: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** Registers `GET /v1/audit` (viewer). */
export async function registerAuditRoutes(app: FastifyInstance, audit: AuditStore): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/audit',
    {
      schema: {
        tags: ['audit'],
        summary: 'The audit trail, newest first',
        querystring: AuditQuery,
        response: { 200: z.object({ entries: z.array(AuditEntrySchema) }), ...errorResponses(400, ...VIEWER_ERRORS) },
      },
    },
    async (req) => ({ entries: await audit.list({ appId: req.query.app, limit: req.query.limit }) }),
  );
}
