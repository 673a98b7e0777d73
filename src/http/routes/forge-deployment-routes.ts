/**
 * `POST /v1/forge/deployments`: HMAC-SHA256 over
 * `<timestamp>.<raw body>` (constant-time, 5-minute tolerance), replayed event ids refused
 * (409), body limit (413), zod validation (400), bad manifest (422), unknown app (404).
 * 202 `{ status: 'accepted' | 'duplicate' | 'non-production', … }`.
 */
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../lib/clock.js';
import { AppError, ErrorCode } from '../../lib/errors.js';
import { receiveDeployEvent } from '../../app/detection/accept-deployment.js';
import {
  checkSignature,
  DeployEvent,
  SIGNATURE_HEADER,
  SIGNATURE_TOLERANCE_MS,
  TIMESTAMP_HEADER,
} from '../../poller/deploy-event.js';
import type { HttpContext } from '../http-context.js';
import { documentedOnly, errorResponses, open } from '../schemas.js';
import { z } from 'zod';

/** What the intake answers, by `status`. */
const DeployAnswer = open({
  status: z.enum(['accepted', 'duplicate', 'non-production']),
  appId: z.string(),
  deploymentId: z.string(),
  version: z.string().nullable().optional().meta({ description: 'duplicate: the version it created, if any' }),
  environment: z.string().optional().meta({ description: 'non-production: the environment, recorded only' }),
  warnings: z
    .array(open({ code: z.string(), detail: z.string() }))
    .optional()
    .meta({
      description: "accepted: what looks wrong but was versioned (e.g. the manifest's app.id names another app)",
    }),
});

/** Options of the intake route. */
export interface DeploymentRouteOptions {
  ctx: HttpContext;
  /** HMAC secret shared with the deployer. */
  secret: string;
  /** Body limit, bytes. @defaultValue 1 MiB */
  bodyLimit: number;
  /**
   * Clock the signature timestamp is checked against (±5 minutes). Freshness is a transport
   * matter, in real time; only a daemon on a scaled clock (the demo) needs it apart from
   * `ctx.clock`. @defaultValue ctx.clock
   */
  transportClock?: Clock;
  /** Requests per client IP and `rateLimitWindowMs` (@fastify/rate-limit, registered by buildApp). */
  rateLimitMax?: number;
  /** @defaultValue 1 minute */
  rateLimitWindowMs?: number;
}

/** Registers `POST /v1/forge/deployments` (public; the HMAC signature authenticates it). */
export async function registerForgeDeploymentRoutes(app: FastifyInstance, opts: DeploymentRouteOptions): Promise<void> {
  const { ctx, secret, bodyLimit } = opts;
  const transportClock = opts.transportClock ?? ctx.clock;
  await app.register(async (scope) => {
    // Keep the raw text: the signature covers the exact bytes sent.
    scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (_req, body, done) =>
      done(null, body),
    );
    const rateLimit = opts.rateLimitMax
      ? { max: opts.rateLimitMax, timeWindow: opts.rateLimitWindowMs ?? 60_000 }
      : undefined;
    // Public: the HMAC signature authenticates the deployer (no token in the deploy hook).
    const config = { access: 'public' as const, audit: 'deploy.receive' as const, rateLimit };
    const schema = {
      tags: ['forge'],
      summary: 'Receive a signed Forge deploy event; a production deploy becomes a version',
      security: [{ deploySignature: [], deployTimestamp: [] }],
      body: DeployEvent,
      response: { 202: DeployAnswer, ...errorResponses(400, 401, 404, 409, 413, 415, 422, 429, 500, 503) },
    };
    // The body is the raw text, validated after its signature is checked: the schema documents it.
    const validatorCompiler = documentedOnly;
    scope.post('/v1/forge/deployments', { bodyLimit, config, schema, validatorCompiler }, async (req, reply) => {
      const raw = typeof req.body === 'string' ? req.body : '';
      const header = (name: string) => {
        const v = req.headers[name];
        return typeof v === 'string' ? v : undefined;
      };
      const problem = checkSignature(
        secret,
        { signature: header(SIGNATURE_HEADER), timestamp: header(TIMESTAMP_HEADER) },
        raw,
        transportClock.now(),
      );
      if (problem) {
        ctx.metrics.deployEvents.inc({ result: 'rejected' });
        throw new AppError(ErrorCode.WEBHOOK_SIGNATURE_INVALID, `deploy event refused: ${problem}`);
      }
      req.actor = 'deploy-hook';
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch {
        ctx.metrics.deployEvents.inc({ result: 'rejected' });
        throw new AppError(ErrorCode.PAYLOAD_INVALID, 'deploy event body is not JSON');
      }
      const parsed = DeployEvent.safeParse(json);
      if (!parsed.success) {
        ctx.metrics.deployEvents.inc({ result: 'rejected' });
        throw new AppError(
          ErrorCode.PAYLOAD_INVALID,
          'deploy event is invalid: ' + parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
          {
            details: { issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), problem: i.message })) },
          },
        );
      }
      const event = parsed.data;
      req.auditTarget = { app: event.appId };
      try {
        // Remembered for twice the tolerance: older replays already fail the timestamp check.
        const result = await receiveDeployEvent(ctx, event, 2 * SIGNATURE_TOLERANCE_MS);
        if ('version' in result && typeof result.version === 'string') req.auditTarget.version = result.version;
        return reply.status(202).send(
          result.status === 'accepted'
            ? {
                status: result.status,
                appId: event.appId,
                deploymentId: event.deploymentId,
                ...(result.warnings.length ? { warnings: result.warnings } : {}),
              }
            : { ...result, appId: event.appId, deploymentId: event.deploymentId },
        );
      } catch (err) {
        ctx.metrics.deployEvents.inc({ result: 'rejected' });
        throw err;
      }
    });
  });
}
