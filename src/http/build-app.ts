/**
 * The daemon's HTTP API, built apart from `listen` so tests use `inject()` (STYLE.md): Forge
 * deploy intake, apps/versions read API, `/healthz`, `/metrics`, bull-board (when a token is
 * configured) and the rollout engineer's routes.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { HttpContext } from './http-context.js';
import { registerRolloutRoutes } from './routes/rollout-routes.js';
import { installErrorHandler } from './error-handler.js';
import type { Clock } from '../lib/clock.js';
import { registerForgeDeploymentRoutes } from './routes/forge-deployment-routes.js';
import { registerOpsRoutes } from './routes/ops-routes.js';
import { registerAppRoutes } from './routes/app-routes.js';
import { registerAdminBoard } from './admin-board.js';

/** Options of `buildApp`. */
export interface BuildAppOptions {
  ctx: HttpContext;
  /** HMAC secret of deploy events (required: intake refuses everything without it). */
  webhookSecret: string;
  /** Clock for deploy-event signature freshness (see DeploymentRouteOptions). @defaultValue ctx.clock */
  transportClock?: Clock;
  /** bull-board token; bull-board is not mounted without one. */
  adminToken?: string;
  /** Deploy event body limit, bytes. @defaultValue 1 MiB */
  webhookBodyLimit?: number;
}

/** Builds (but does not start) the Fastify app. Logs go to `ctx.logger`. */
export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const { ctx } = opts;
  const app: FastifyInstance = Fastify({
    loggerInstance: ctx.logger.child({ component: 'http' }) as FastifyBaseLogger,
  });
  installErrorHandler(app);
  await registerOpsRoutes(app, ctx);
  await registerAppRoutes(app, ctx);
  await registerForgeDeploymentRoutes(app, {
    ctx,
    secret: opts.webhookSecret,
    bodyLimit: opts.webhookBodyLimit ?? 1_048_576,
    transportClock: opts.transportClock,
  });
  if (opts.adminToken) await registerAdminBoard(app, Object.values(ctx.queues), opts.adminToken);
  await registerRolloutRoutes(app, ctx);
  return app;
}
