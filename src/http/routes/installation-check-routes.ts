/**
 * What an installation sees of its rollout, and why (README "Controlling a rollout"):
 * - `GET /v1/installations/:id/update-check` → `UpdateCheckAnswer`: what its daily update check
 *   answers now (the version to run; or "update available: X needs your admin's approval" with
 *   the approval link; or "up to date"), with its next check time;
 * - `GET /v1/installations/:id/why` → `InstallationWhy`: each reason it is not on the latest
 *   version, typed and in words, with times;
 * - `GET /v1/approvals/:appId/:version?limit=` → `ApprovalList`: the approvals of a manual version.
 * Viewer tokens (auth.ts). The update check is also callable *as the installation* (UPM's daily
 * check): a Connect JWT signed with its shared secret (connect-jwt.ts), whose `iss` must be `:id`.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { updateCheck, whyInstallation, type AuditReader } from '../../app/rollout/explain.js';
import { listApprovals, APPROVAL_STATES } from '../../app/rollout/approval-notices.js';
import type { RouteAccess } from '../auth.js';
import type { HttpContext } from '../http-context.js';
import { verifyInstallationJwt } from '../connect-jwt.js';
import { AppError, ErrorCode } from '../../lib/errors.js';
import type { Clock } from '../../lib/clock.js';
import { VIEWER_ERRORS, errorResponses, open } from '../schemas.js';

/** Who may call the update check: an operator or viewer token, or the installation itself (its JWT). */
export const UPDATE_CHECK_ACCESS: RouteAccess = 'viewer';

const epochMs = z.number().meta({ description: 'epoch ms' });
const InstallationParams = z.object({ id: z.string() });
const ApprovalParams = z.object({ appId: z.string(), version: z.string() });
const ApprovalQuery = z.object({ limit: z.coerce.number().int().min(0).max(10_000).default(100) });

const UpdateCheckSchema = open({
  installationId: z.string(),
  appId: z.string(),
  status: z.enum(['update', 'approval-needed', 'up-to-date', 'app-removed']),
  current: z.string().meta({ description: 'the version it runs' }),
  run: z.string().meta({ description: 'the version to run now' }),
  needsApproval: z.string().nullable().meta({ description: "a newer version shown that needs its admins' approval" }),
  approvalUrl: z.string().nullable(),
  approvalExpiresAt: epochMs.nullable(),
  nextCheckAt: epochMs,
  checkedAt: epochMs,
  message: z.string(),
}).meta({ id: 'UpdateCheck' });

const WhySchema = open({
  installationId: z.string(),
  appId: z.string(),
  current: z.string(),
  latest: z.string().nullable(),
  shouldRun: z.string(),
  nextCheckAt: epochMs,
  reasons: z.array(open({ kind: z.string() })),
  words: z.array(z.string()),
}).meta({ id: 'InstallationWhy' });

const ApprovalListSchema = open({
  appId: z.string(),
  version: z.string(),
  counts: z.record(z.enum(APPROVAL_STATES as [string, ...string[]]), z.number()),
  rows: z.array(
    open({
      installationId: z.string(),
      site: z.string().nullable(),
      admins: z.array(z.string()),
      state: z.string(),
      notifiedAt: epochMs,
      remindedAt: z.array(epochMs),
    }),
  ),
}).meta({ id: 'ApprovalList' });

/**
 * Registers the routes; `audit` names who paused or halted a rollout in `why`; `transportClock`
 * checks a JWT's expiry (real time, not the rollout's possibly scaled clock). @defaultValue ctx.clock
 */
export async function registerInstallationCheckRoutes(
  app: FastifyInstance,
  ctx: HttpContext,
  audit?: AuditReader,
  transportClock?: Clock,
): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    '/v1/installations/:id/update-check',
    {
      config: { access: UPDATE_CHECK_ACCESS, installationJwt: true },
      schema: {
        tags: ['installations'],
        summary: "What the installation's daily update check answers now",
        params: InstallationParams,
        response: { 200: UpdateCheckSchema, ...errorResponses(404, ...VIEWER_ERRORS) },
      },
    },
    async (req) => {
      if (req.principal === null) {
        // No token passed the auth hook: the call is made as an installation, with its JWT.
        const caller = await verifyInstallationJwt(req, ctx, (transportClock ?? ctx.clock).now());
        req.actor = `installation:${caller}`;
        if (caller !== req.params.id)
          throw new AppError(
            ErrorCode.FORBIDDEN,
            `installation ${caller} may check its own updates only, not installation ${req.params.id}'s`,
            { details: { caller, installation: req.params.id } },
          );
      }
      return updateCheck(ctx, req.params.id);
    },
  );
  r.get(
    '/v1/installations/:id/why',
    {
      schema: {
        tags: ['installations'],
        summary: 'Why the installation is not on the latest version, reason by reason',
        params: InstallationParams,
        response: { 200: WhySchema, ...errorResponses(404, ...VIEWER_ERRORS) },
      },
    },
    async (req) => whyInstallation(ctx, req.params.id, audit),
  );
  r.get(
    '/v1/approvals/:appId/:version',
    {
      schema: {
        tags: ['rollouts'],
        summary: 'Approvals of a manual version: pending, approved, notified and reminded at',
        params: ApprovalParams,
        querystring: ApprovalQuery,
        response: { 200: ApprovalListSchema, ...errorResponses(400, 404, ...VIEWER_ERRORS) },
      },
    },
    async (req) => listApprovals(ctx, req.params.appId, req.params.version, req.query.limit),
  );
}
