/**
 * The daemon's HTTP API, built apart from `listen` so tests use `inject()` (STYLE.md): Forge
 * deploy intake, approval links, apps/versions/installations/rollouts API, audit trail,
 * `/healthz`, `/metrics` and bull-board, behind the auth hook (auth.ts: viewer and operator
 * tokens), with per-IP rate limits on the routes reachable without a token and an audit entry
 * for every state-changing request (audit.ts). Every route declares its request and answer
 * schemas in zod (schemas.ts), from which `/openapi.json` and Swagger UI at `/docs` are built
 * (openapi.ts).
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { HttpContext } from './http-context.js';
import { registerRolloutRoutes } from './routes/rollout-routes.js';
import { registerInstallationCheckRoutes } from './routes/installation-check-routes.js';
import { registerBulkUpgradeRoutes } from './routes/bulk-upgrade-routes.js';
import { installErrorHandler } from './error-handler.js';
import type { Clock } from '../lib/clock.js';
import { AppError, ErrorCode } from '../lib/errors.js';
import type { NamedToken } from '../config/config.js';
import type { AuditStore } from '../store/audit-store.js';
import { registerForgeDeploymentRoutes } from './routes/forge-deployment-routes.js';
import { registerOpsRoutes } from './routes/ops-routes.js';
import { registerAppRoutes } from './routes/app-routes.js';
import { registerApprovalLinkRoutes } from './routes/approval-link-routes.js';
import { registerAuditRoutes } from './routes/audit-routes.js';
import { registerAdminBoard } from './admin-board.js';
import { createTokenVerifier, installAuth } from './auth.js';
import { registerDistributionRoutes } from './routes/distribution-routes.js';
import { registerInstallRoutes } from './routes/install-routes.js';
import { installAudit } from './audit.js';
import { installSchemaCompilers } from './schemas.js';
import { registerOpenApi } from './openapi.js';

/** Per-client-IP limits of the routes reachable without an operator token. */
export interface RateLimits {
  /** Deploy intake requests per window. */
  deployMax: number;
  /** Approval-link requests (GET and POST) per window. */
  approvalMax: number;
  /** Window, ms. */
  windowMs: number;
}

/** Options of `buildApp`. */
export interface BuildAppOptions {
  ctx: HttpContext;
  /** HMAC secret of deploy events (required: intake refuses everything without it). */
  webhookSecret: string;
  /** Operator tokens: full control, bull-board included. */
  operatorTokens: readonly NamedToken[];
  /** Viewer tokens: every GET. @defaultValue none */
  viewerTokens?: readonly NamedToken[];
  /** Approval-link secret; without one the approval-link routes are not mounted. */
  approvalSecret?: string;
  /** Where every state-changing request is recorded. */
  audit: AuditStore;
  /** Clock for deploy-event signature freshness and audit times (see DeploymentRouteOptions). @defaultValue ctx.clock */
  transportClock?: Clock;
  /** Mount bull-board at /admin/queues (operators only). @defaultValue true */
  adminBoard?: boolean;
  /** Deploy event body limit, bytes. @defaultValue 1 MiB */
  webhookBodyLimit?: number;
  /** @defaultValue 120 deploy and 30 approval-link requests per IP and minute */
  rateLimits?: Partial<RateLimits>;
  /** The API version `/openapi.json` states. @defaultValue the package's, `0.1.0` */
  apiVersion?: string;
}

/**
 * Fastify's request log line without credentials in the URL: bull-board's `?token=` and an
 * approval link's `sig` are replaced (headers are not logged; `authorization` is redacted anyway).
 */
function serializeRequest(req: FastifyRequest) {
  return {
    method: req.method,
    url: req.url.replace(/([?&](?:token|sig)=)[^&#]*/g, '$1[redacted]'),
    host: req.host,
    remoteAddress: req.ip,
  };
}

/** Builds (but does not start) the Fastify app. Logs go to `ctx.logger`. */
export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const { ctx } = opts;
  const limits: RateLimits = { deployMax: 120, approvalMax: 30, windowMs: 60_000, ...opts.rateLimits };
  const app: FastifyInstance = Fastify({
    loggerInstance: ctx.logger.child(
      { component: 'http' },
      { serializers: { req: serializeRequest } },
    ) as FastifyBaseLogger,
  });
  installErrorHandler(app);
  installSchemaCompilers(app);
  installAuth(app, { operators: opts.operatorTokens, viewers: opts.viewerTokens ?? [] });
  installAudit(app, { store: opts.audit, clock: opts.transportClock ?? ctx.clock });
  // In memory, per process (README "Security"): a brake on abuse of the unauthenticated routes,
  // not a quota; it keeps answering when Redis is down and costs no round trip.
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_req, c) =>
      new AppError(ErrorCode.RATE_LIMITED, `too many requests: at most ${c.max} per window; retry in ${c.after}`, {
        details: { max: c.max, retryAfterMs: c.ttl },
      }),
  });
  // Before the routes: the document lists the routes registered after it.
  await registerOpenApi(app, { version: opts.apiVersion ?? '0.1.0' });
  await registerOpsRoutes(app, ctx);
  await registerAppRoutes(app, ctx);
  await registerForgeDeploymentRoutes(app, {
    ctx,
    secret: opts.webhookSecret,
    bodyLimit: opts.webhookBodyLimit ?? 1_048_576,
    transportClock: opts.transportClock,
    rateLimitMax: limits.deployMax,
    rateLimitWindowMs: limits.windowMs,
  });
  if (opts.approvalSecret)
    await registerApprovalLinkRoutes(app, {
      ctx,
      secret: opts.approvalSecret,
      rateLimitMax: limits.approvalMax,
      rateLimitWindowMs: limits.windowMs,
    });
  if (opts.adminBoard ?? true) await registerAdminBoard(app, Object.values(ctx.queues));
  await registerRolloutRoutes(app, ctx);
  await registerInstallationCheckRoutes(app, ctx, opts.audit, opts.transportClock);
  await registerBulkUpgradeRoutes(app, ctx);
  await registerAuditRoutes(app, opts.audit);
  await registerDistributionRoutes(app, ctx);
  // The installation screen and the Connect clientKey: their own credentials (link, token, JWT),
  // under the approval links' per-IP limit; mounted when the context signs installation links
  // (the daemon's always does: its key derives from the webhook secret HTTP requires).
  if (ctx.installLinks)
    await registerInstallRoutes(app, {
      ctx,
      verifyToken: createTokenVerifier({ operators: opts.operatorTokens, viewers: opts.viewerTokens ?? [] }),
      rateLimitMax: limits.approvalMax,
      rateLimitWindowMs: limits.windowMs,
      transportClock: opts.transportClock,
    });
  return app;
}
