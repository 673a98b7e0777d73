/**
 * Approval links, the admin's side of "update available" (README "Security"): the notice carries,
 * per installation, `<MPU_PUBLIC_URL>/v1/approval-links/<installation>?app=&version=&expires=&sig=`
 * (src/lib/approval-link.ts). No token: the signature is the credential, rate-limited per IP.
 * - `GET` → what a `POST` would approve (installation, app, its version, the version offered);
 * - `POST` → approves that installation up to that version (`approveInstallation`), 202; for a
 *   Connect installation shown its Forge successor, the link names the Connect app and the Forge
 *   version, and the approval moves it to the Forge app.
 * A tampered link (another installation, app, version or expiry) or an expired one → 401
 * `unauthorized`; a link whose installation now belongs to another app → 403 `forbidden`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { verifyApproval, type SignedApproval } from '../../lib/approval-link.js';
import { AppError, ErrorCode } from '../../lib/errors.js';
import { approveInstallation } from '../../app/rollout/installations.js';
import type { HttpContext } from '../http-context.js';
import { ApprovalResultSchema, documentedOnly, errorResponses, open } from '../schemas.js';

/** Options of `registerApprovalLinkRoutes`. */
export interface ApprovalLinkRouteOptions {
  ctx: HttpContext;
  /** The approval secret (config `approvalSecret`). */
  secret: string;
  /** Requests per client IP and `rateLimitWindowMs`. @defaultValue no limit */
  rateLimitMax?: number;
  /** @defaultValue 1 minute */
  rateLimitWindowMs?: number;
}

const LinkQuery = z.object({
  app: z.string().min(1),
  version: z.string().min(1),
  expires: z.coerce.number().int(),
  sig: z.string().min(1),
});

/** What `GET` on a link shows: what a `POST` on it would approve. */
const LinkView = open({
  installationId: z.string(),
  appId: z.string(),
  site: z.string(),
  current: z.string().meta({ description: 'the version the installation runs' }),
  version: z.string().meta({ description: 'the version the link approves up to' }),
  approval: z.enum(['automatic', 'manual']).nullable(),
  approvedUpTo: z.string().nullable(),
  expiresAt: z.number().meta({ description: 'epoch ms' }),
  approve: z.string(),
});

/** Registers `GET` and `POST /v1/approval-links/:installationId`. */
export async function registerApprovalLinkRoutes(app: FastifyInstance, opts: ApprovalLinkRouteOptions): Promise<void> {
  const { ctx, secret } = opts;
  const rateLimit = opts.rateLimitMax
    ? { max: opts.rateLimitMax, timeWindow: opts.rateLimitWindowMs ?? 60_000 }
    : undefined;

  /** The verified link of `req`. @throws AppError unauthorized (malformed, tampered, expired), forbidden */
  async function verifiedLink(req: FastifyRequest<{ Params: { installationId: string } }>): Promise<SignedApproval> {
    const installationId = req.params.installationId;
    req.actor = `link:${installationId}`;
    req.auditTarget = { installation: installationId };
    const q = LinkQuery.safeParse(req.query);
    if (!q.success)
      throw new AppError(
        ErrorCode.UNAUTHORIZED,
        'approval link is incomplete: it needs app, version, expires and sig (copy the whole link from the notice)',
      );
    const { app: appId, version, expires, sig } = q.data;
    const link: SignedApproval = { installationId, appId, version, expires, sig };
    req.auditTarget = { installation: installationId, app: link.appId, version: link.version };
    const problem = verifyApproval(secret, link, ctx.clock.now());
    if (problem === 'expired')
      throw new AppError(
        ErrorCode.UNAUTHORIZED,
        `approval link expired at ${new Date(link.expires * 1000).toISOString()}: ask an operator for a new notice, or to approve it ('mpu approve')`,
      );
    if (problem)
      throw new AppError(
        ErrorCode.UNAUTHORIZED,
        'approval link is not valid: its signature does not match (altered, or made for another installation, app or version)',
      );
    const owner = await ctx.installs.appOf(installationId);
    if (owner !== null && owner !== link.appId)
      throw new AppError(
        ErrorCode.FORBIDDEN,
        `approval link is for app ${link.appId}, but installation ${installationId} now belongs to ${owner}`,
      );
    return link;
  }

  // One route for both methods, so they share one rate-limit counter per client (the plugin keeps
  // a counter store per route): a client's budget is for the links, whatever the method.
  app.route<{ Params: { installationId: string } }>({
    method: ['GET', 'POST'],
    url: '/v1/approval-links/:installationId',
    schema: {
      tags: ['approval-links'],
      summary: 'GET: what the link approves; POST: approve it (the link is the credential)',
      security: [{ approvalLink: [] }],
      params: z.object({ installationId: z.string() }),
      querystring: LinkQuery,
      response: {
        200: LinkView.describe('GET: what a POST would approve'),
        202: ApprovalResultSchema,
        ...errorResponses(401, 403, 404, 409, 429, 500, 503),
      },
    },
    // The query is checked in the handler: an incomplete link is a 401 that says what is missing.
    validatorCompiler: documentedOnly,
    config: {
      access: 'public',
      rateLimit,
      audit: (req) => (req.method === 'POST' ? 'installation.approve' : undefined),
    },
    handler: async (req, reply) => {
      const link = await verifiedLink(req);
      if (req.method === 'POST')
        return reply.status(202).send(await approveInstallation(ctx, link.installationId, link.version));
      const inst = await ctx.installs.get(link.installationId);
      // A Connect installation offered its Forge successor: the version is the Forge app's.
      const offer = inst.updateAvailable ?? '';
      const successor = offer.endsWith(`@${link.version}`) ? offer.slice(0, -link.version.length - 1) : link.appId;
      const record = (await ctx.versions.listVersions(successor)).find((v) => v.version === link.version);
      return {
        ...(successor !== link.appId ? { successorAppId: successor } : {}),
        installationId: inst.id,
        appId: link.appId,
        site: inst.site,
        current: inst.version,
        version: link.version,
        approval: record?.approval ?? null,
        approvedUpTo: inst.approvedUpTo,
        expiresAt: link.expires * 1000,
        approve: `POST this URL to approve ${inst.id} up to ${link.version}`,
      };
    },
  });
}
