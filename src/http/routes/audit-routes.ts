/**
 * `GET /v1/audit?app=&limit=` (viewer): the audit trail, newest first (src/store/audit-store.ts).
 * `limit` 1–1,000, default 100; `app` keeps the entries about that app.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError, ErrorCode } from '../../lib/errors.js';
import type { AuditStore } from '../../store/audit-store.js';

const AuditQuery = z.object({
  app: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export async function registerAuditRoutes(app: FastifyInstance, audit: AuditStore): Promise<void> {
  app.get('/v1/audit', async (req) => {
    const q = AuditQuery.safeParse(req.query);
    if (!q.success)
      throw new AppError(
        ErrorCode.INPUT_INVALID,
        'query: ' + q.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '),
      );
    return { entries: await audit.list({ appId: q.data.app, limit: q.data.limit }) };
  });
}
