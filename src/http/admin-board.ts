/**
 * bull-board at `/admin/queues`, for operators only (auth.ts): `Authorization: Bearer <token>`,
 * or `?token=<operator token>` once, which sets an HttpOnly cookie so the UI's assets and API
 * calls pass. Its state-changing calls (retry, promote, clean, pause a queue…) are audited as
 * `queue.admin` with their method and path.
 */
import type { FastifyInstance } from 'fastify';
import type { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';

const BASE = '/admin/queues';

/** Mounts bull-board for `queues`; the auth hook (installAuth) must be installed on `app`. */
export async function registerAdminBoard(app: FastifyInstance, queues: Queue[]): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BASE);
  // @bull-board/fastify pins its own copy of @bull-board/api: the types differ, the runtime contract does not.
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q as never)), serverAdapter: serverAdapter as never });
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const writes = methods.some((m) => m !== 'GET' && m !== 'HEAD');
      route.config = {
        ...route.config,
        access: 'operator',
        cookieAuth: true,
        cookiePath: BASE,
        ...(writes ? { audit: 'queue.admin' as const } : {}),
      };
    });
    scope.addHook('preHandler', async (req) => {
      if (req.routeOptions.config.audit) req.auditTarget = { path: `${req.method} ${req.url.split('?')[0]}` };
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: BASE });
  });
}
