/**
 * The routes reached without an operator token by the people and installations of distribution
 * (DESIGN.md "Distribution rules", "Connect to Forge migration"):
 * - `GET /install/:appId?signature=&product=`: the installation screen (HTML, install-page.ts):
 *   the app, its version and the permissions it requests, and a sign-in form; `Accept:
 *   application/json` gets the same as JSON. A stale, stopped or forged link is a 403 page that
 *   says which.
 * - `POST` on the same link, form-encoded (the page) or JSON: `token` only → the sites the
 *   token's name administers that run every product of the link (the site picker); `token`,
 *   `site`, `adminOf` → installs (`installFromLink`): 201 new (with the shared secret, shown once),
 *   200 the site's existing installation. The installer is the name of the API token given
 *   (`token` field, or `Authorization: Bearer`): a site lists its admins per product by those
 *   names (`mpu sites add SITE --admins jira:alice`). Installs are audited (`installation.install`).
 * - `GET /2.0/addon/:addonKey/client-key`: called as a Forge installation (a Connect JWT signed
 *   with its shared secret, connect-jwt.ts) → `{ clientKey }` of the Connect installation of
 *   `addonKey` on the same site, when its descriptor names the caller's app in `forgeAppId`.
 * The link and the JWT are the credentials; all are rate-limited per client IP.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError, ErrorCode, httpStatusFor } from '../../lib/errors.js';
import type { Clock } from '../../lib/clock.js';
import type { HttpContext } from '../http-context.js';
import { eligibleSites, installFromLink, previewLink, type LinkInput } from '../../app/distribution/install.js';
import { connectClientKey } from '../../app/distribution/connect-bridge.js';
import type { Principal } from '../auth.js';
import { verifyInstallationJwt } from '../connect-jwt.js';
import { renderInstalledPage, renderLinkPage, renderPickerPage, renderRefusedPage } from '../install-page.js';
import { InstallResultSchema } from './distribution-routes.js';
import { documentedOnly, errorResponses, open } from '../schemas.js';

/** Options of `registerInstallRoutes`. */
export interface InstallRouteOptions {
  ctx: HttpContext;
  /** Names the principal of an API token (auth.ts `createTokenVerifier`). */
  verifyToken: (token: string) => Principal | null;
  /** Requests per client IP and `rateLimitWindowMs` on each route. @defaultValue no limit */
  rateLimitMax?: number;
  /** @defaultValue 1 minute */
  rateLimitWindowMs?: number;
  /** Clock of JWT expiry (real time). @defaultValue ctx.clock */
  transportClock?: Clock;
}

const LinkQuery = z.object({ signature: z.string(), product: z.string() });
const InstallBody = z.object({
  token: z.string().optional(),
  site: z.string().optional(),
  adminOf: z.string().optional(),
});
type InstallBody = z.infer<typeof InstallBody>;

type LinkRequest = FastifyRequest<{ Params: { appId: string }; Querystring: Record<string, unknown> }>;

function linkOf(req: LinkRequest): LinkInput {
  const q = req.query;
  return {
    appId: req.params.appId,
    signature: typeof q.signature === 'string' ? q.signature : '',
    products: typeof q.product === 'string' ? q.product.split(',') : [],
  };
}

const wantsJson = (req: FastifyRequest) =>
  (req.headers['content-type'] ?? '').includes('application/json') ||
  (/application\/json/.test(req.headers.accept ?? '') && !/text\/html/.test(req.headers.accept ?? ''));

const TITLES: Partial<Record<string, string>> = {
  [ErrorCode.INSTALL_LINK_INVALID]: 'This installation link does not work',
  [ErrorCode.INSTALL_REFUSED]: 'Installation refused',
  [ErrorCode.SITE_NOT_FOUND]: 'Unknown site',
  [ErrorCode.UNAUTHORIZED]: 'Sign-in refused',
};

/** Registers the installation screen and the client-key route (public: their own credentials). */
export async function registerInstallRoutes(app: FastifyInstance, opts: InstallRouteOptions): Promise<void> {
  const { ctx, verifyToken } = opts;
  const rateLimit = opts.rateLimitMax
    ? { max: opts.rateLimitMax, timeWindow: opts.rateLimitWindowMs ?? 60_000 }
    : undefined;

  // Form posts of the installation screen, in this scope only (Fastify parses JSON by itself).
  await app.register(async (scope) => {
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 16_384 },
      (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );

    /** An AppError as the page (or JSON) answers it; the error code is kept for the audit trail. */
    const refuse = (req: FastifyRequest, reply: FastifyReply, err: unknown) => {
      if (!(err instanceof AppError) || wantsJson(req)) throw err;
      req.errorCode = err.code;
      return reply
        .status(httpStatusFor(err.code))
        .type('text/html; charset=utf-8')
        .send(renderRefusedPage(TITLES[err.code] ?? 'Installation failed', err.message));
    };

    type Route = { Params: { appId: string }; Querystring: Record<string, unknown>; Body: InstallBody };
    const handler = async (req: FastifyRequest<Route>, reply: FastifyReply) => {
      const link = linkOf(req);
      req.auditTarget = { app: link.appId };
      const action = req.url;
      try {
        const preview = await previewLink(ctx, link);
        if (req.method === 'GET')
          return wantsJson(req)
            ? preview
            : reply.type('text/html; charset=utf-8').send(renderLinkPage(preview, action));
        const body = (req.body ?? {}) as InstallBody;
        const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
        const token = bearer ?? (typeof body.token === 'string' ? body.token : undefined);
        const principal = token ? verifyToken(token) : null;
        if (!principal) {
          const message = token
            ? 'that token is not valid: use the API token you were given (its name is the admin name on your site)'
            : "sign in with your API token (send 'token', or 'Authorization: Bearer <token>')";
          if (wantsJson(req)) throw new AppError(ErrorCode.UNAUTHORIZED, message);
          req.errorCode = ErrorCode.UNAUTHORIZED;
          return reply
            .status(401)
            .type('text/html; charset=utf-8')
            .send(renderLinkPage(preview, action, message));
        }
        req.actor = principal.name;
        if (!body.site) {
          const sites = eligibleSites(await ctx.sites.list(), preview.products, principal.name);
          return wantsJson(req)
            ? { installer: principal.name, sites }
            : reply
                .type('text/html; charset=utf-8')
                .send(renderPickerPage(preview, action, principal.name, bearer ? '' : token!, sites));
        }
        req.auditTarget = { app: link.appId, site: body.site };
        const res = await installFromLink(ctx, {
          link,
          site: body.site,
          adminOf: body.adminOf ?? '',
          installer: principal.name,
        });
        req.auditTarget = { app: link.appId, site: body.site, installation: res.id, version: res.installation.version };
        reply.status(res.created ? 201 : 200);
        return wantsJson(req) ? res : reply.type('text/html; charset=utf-8').send(renderInstalledPage(res));
      } catch (err) {
        return refuse(req, reply, err);
      }
    };
    const schema = {
      tags: ['distribution'],
      security: [{ installLink: [] }],
      params: z.object({ appId: z.string() }),
      querystring: LinkQuery,
    };
    const errors = errorResponses(400, 401, 403, 404, 429, 500, 503);
    // The link and form are checked in the handler: a bad link is a page that says why.
    scope.get<Route>(
      '/install/:appId',
      {
        schema: {
          ...schema,
          summary:
            'The installation screen of a shared app: its version and the permissions it requests (HTML; JSON with Accept: application/json)',
          response: { 200: open({}).describe('the page (text/html), or the preview as JSON'), ...errors },
        },
        validatorCompiler: documentedOnly,
        config: { access: 'public', rateLimit },
      },
      handler,
    );
    scope.post<Route>(
      '/install/:appId',
      {
        schema: {
          ...schema,
          summary: "Install by link: token → the sites the token's name administers; token, site, adminOf → install",
          body: InstallBody,
          response: {
            200: open({}).describe('the site picker, or the existing installation (HTML, or JSON)'),
            201: InstallResultSchema,
            ...errors,
          },
        },
        validatorCompiler: documentedOnly,
        config: {
          access: 'public',
          rateLimit,
          audit: (req) => ((req.body as InstallBody | undefined)?.site ? 'installation.install' : undefined),
        },
      },
      handler,
    );
  });

  app.get<{ Params: { addonKey: string } }>(
    '/2.0/addon/:addonKey/client-key',
    {
      schema: {
        tags: ['distribution'],
        summary:
          "The clientKey of the Connect app's installation on the calling Forge installation's site (when its descriptor's forgeAppId names the caller's app)",
        security: [{ installationJwt: [] }],
        params: z.object({ addonKey: z.string() }),
        response: {
          200: open({ clientKey: z.string() }),
          ...errorResponses(400, 401, 403, 404, 429, 500, 503),
        },
      },
      config: { access: 'public', rateLimit },
    },
    async (req) => {
      const caller = await verifyInstallationJwt(req, ctx, (opts.transportClock ?? ctx.clock).now());
      req.actor = `installation:${caller}`;
      return connectClientKey(ctx, caller, req.params.addonKey);
    },
  );
}
