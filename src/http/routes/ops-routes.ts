/**
 * Operations endpoints: `/healthz` (Redis answers → 200, else 503) and `/metrics` (Prometheus
 * text from the daemon's registry; queue depths collected at scrape time).
 */
import type { FastifyInstance } from 'fastify';
import type { DaemonContext } from '../../workers/daemon-context.js';

export async function registerOpsRoutes(app: FastifyInstance, ctx: DaemonContext): Promise<void> {
  app.get('/healthz', async (_req, reply) => {
    try {
      await ctx.connection.ping();
      return { status: 'ok' };
    } catch (err) {
      return reply.status(503).send({ status: 'unavailable', problem: `redis: ${String(err)}` });
    }
  });
  app.get('/metrics', async (_req, reply) => {
    const text = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });
}
