/**
 * Operations endpoints: `/healthz` (Redis answers → 200, else 503) and `/metrics` (Prometheus
 * text from the daemon's registry; queue depths collected at scrape time).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { HttpContext } from '../http-context.js';
import { VIEWER_ERRORS, errorResponses } from '../schemas.js';

const Health = z.object({
  status: z.enum(['ok', 'unavailable']),
  problem: z.string().optional().meta({ description: 'Why Redis is not usable' }),
});

/** How long /healthz waits for Redis to answer PING, ms. */
const HEALTH_TIMEOUT_MS = 1_000;

/**
 * Registers `/healthz` (public) and `/metrics` (viewer). Probes and scrapes come every few seconds
 * and would fill the log, so their request logs are debug lines: Fastify logs requests at info and
 * a route can only raise its threshold (`logLevel`), so these two routes keep `debug` when the
 * logger shows debug and `warn` (errors still logged) otherwise.
 */
export async function registerOpsRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const logLevel = ctx.logger.isLevelEnabled('debug') ? 'debug' : 'warn';
  // Public: load balancers and orchestrators probe it without credentials; it says only up or down.
  const healthz = {
    tags: ['ops'],
    summary: 'Up (Redis answers PING) or down',
    response: { 200: Health, 503: Health.describe('Redis does not answer') },
  };
  app.get('/healthz', { logLevel, config: { access: 'public' }, schema: healthz }, async (_req, reply) => {
    // Answer at once during an outage: commands queue (BullMQ's connections retry forever),
    // so a ping without a deadline would hang the probe.
    if (ctx.connection.status !== 'ready') {
      return reply.status(503).send({ status: 'unavailable', problem: `redis: connection ${ctx.connection.status}` });
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        ctx.connection.ping(),
        new Promise(
          (_, reject) =>
            (timer = setTimeout(
              () => reject(new Error(`no PING answer within ${HEALTH_TIMEOUT_MS} ms`)),
              HEALTH_TIMEOUT_MS,
            )),
        ),
      ]);
      return { status: 'ok' };
    } catch (err) {
      return reply
        .status(503)
        .send({ status: 'unavailable', problem: `redis: ${err instanceof Error ? err.message : String(err)}` });
    } finally {
      clearTimeout(timer);
    }
  });
  const metrics = {
    tags: ['ops'],
    summary: 'Prometheus metrics (text exposition format)',
    response: {
      200: { description: 'Prometheus text', content: { 'text/plain': { schema: z.string() } } },
      ...errorResponses(...VIEWER_ERRORS),
    },
  };
  app.get('/metrics', { logLevel, schema: metrics }, async (_req, reply) => {
    const text = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });
}
