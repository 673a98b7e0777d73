/**
 * bull-board at `/admin/queues`, behind a token: `Authorization: Bearer <token>`, or
 * `?token=<token>` once (which sets an HttpOnly cookie so the UI's assets and API calls pass).
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';

const BASE = '/admin/queues';
const COOKIE = 'mpu_admin_token';

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Mounts bull-board for `queues`, refusing requests without the token (401). */
export async function registerAdminBoard(app: FastifyInstance, queues: Queue[], token: string): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BASE);
  // @bull-board/fastify pins its own copy of @bull-board/api: the types differ, the runtime contract does not.
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q as never)), serverAdapter: serverAdapter as never });
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (req, reply) => {
      const auth = req.headers.authorization;
      const bearer = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
      const cookie = /(?:^|;\s*)mpu_admin_token=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
      const query = (req.query as Record<string, unknown> | undefined)?.token;
      if (bearer !== undefined && same(bearer, token)) return;
      if (cookie !== undefined && same(decodeURIComponent(cookie), token)) return;
      if (typeof query === 'string' && same(query, token)) {
        reply.header('set-cookie', `${COOKIE}=${encodeURIComponent(token)}; Path=${BASE}; HttpOnly; SameSite=Strict`);
        return;
      }
      return reply.status(401).send({
        error: { code: 'unauthorized', message: 'bull-board needs the admin token (MPU_ADMIN_TOKEN)', details: {} },
      });
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: BASE });
  });
}
