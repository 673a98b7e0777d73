/**
 * Operator API of distribution (DESIGN.md "Distribution rules", "Connect to Forge migration"),
 * the same use cases as `mpu sites`, `mpu apps sharing`, `mpu apps listing submit` and
 * `mpu install connect`:
 * - `GET /v1/sites` · `POST /v1/sites` `{ site, products, admins? }`
 * - `GET /v1/apps/:appId/sharing` · `POST /v1/apps/:appId/sharing` `{ products }` (enable)
 * - `POST /v1/apps/:appId/sharing/regenerate` · `POST /v1/apps/:appId/sharing/stop`
 * - `POST /v1/apps/:appId/listing` (submitted for a Marketplace listing)
 * - `POST /v1/apps/:appId/connect-installations` `{ site }`: a product installing a Connect app
 *   (201 new, with `sharedSecret`; 200 the site's existing one; 403 `install-blocked` with seed
 *   004's exact message while the descriptor has `blockInstall: true`)
 * GETs need a viewer token, POSTs an operator token; each POST leaves an audit entry.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { HttpContext } from '../http-context.js';
import { addSite, listSites } from '../../app/distribution/sites.js';
import {
  enableSharing,
  regenerateLink,
  showSharing,
  stopSharing,
  submitListing,
} from '../../app/distribution/sharing.js';
import { installConnectApp } from '../../app/distribution/install.js';
import { AppParams, InstallationViewSchema, OPERATOR_ERRORS, VIEWER_ERRORS, errorResponses, open } from '../schemas.js';

const list = z.union([z.array(z.string()), z.string()]);

/** A site (`SiteRecord`). */
export const SiteSchema = open({
  site: z.string(),
  products: z.array(z.string()),
  admins: z.record(z.string(), z.array(z.string())).meta({ description: 'admin names by product' }),
  createdAt: z.number().meta({ description: 'epoch ms' }),
}).meta({ id: 'Site' });

/** An app's sharing state (`SharingView`). */
export const SharingSchema = open({
  appId: z.string(),
  status: z.enum(['enabled', 'stopped', 'off']),
  products: z.array(z.string()),
  generation: z.number(),
  link: z.string().nullable().meta({ description: 'the current installation link while enabled' }),
  changed: z.boolean(),
  refusals: z.array(z.string()),
  listingSubmittedAt: z.number().nullable(),
}).meta({ id: 'Sharing' });

/** What an install did (`InstallResult`). */
export const InstallResultSchema = open({
  created: z.boolean(),
  id: z.string().meta({ description: 'the installation id (clientKey)' }),
  installation: InstallationViewSchema,
  sharedSecret: z.string().optional().meta({ description: 'only in the answer that created the installation' }),
  message: z.string(),
}).meta({ id: 'InstallResult' });

/** Registers the routes. */
export async function registerDistributionRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    '/v1/sites',
    {
      schema: {
        tags: ['distribution'],
        summary: 'Sites with their products and admins',
        response: { 200: z.object({ sites: z.array(SiteSchema) }), ...errorResponses(...VIEWER_ERRORS) },
      },
    },
    async () => ({ sites: await listSites(ctx) }),
  );
  r.post(
    '/v1/sites',
    {
      config: { audit: 'site.add' },
      schema: {
        tags: ['distribution'],
        summary: 'Add a site, or add products and admins (product:name) to one',
        body: z.object({ site: z.string(), products: list, admins: list.optional() }),
        response: {
          200: open({ created: z.boolean(), site: SiteSchema }),
          ...errorResponses(400, ...OPERATOR_ERRORS),
        },
      },
    },
    async (req) => {
      req.auditTarget = { site: req.body.site };
      return addSite(ctx, req.body);
    },
  );
  r.get(
    '/v1/apps/:appId/sharing',
    {
      schema: {
        tags: ['distribution'],
        summary: "An app's sharing state and current installation link",
        params: AppParams,
        response: { 200: SharingSchema, ...errorResponses(404, 500, ...VIEWER_ERRORS) },
      },
    },
    async (req) => showSharing(ctx, req.params.appId),
  );
  r.post(
    '/v1/apps/:appId/sharing',
    {
      config: { audit: 'sharing.enable' },
      schema: {
        tags: ['distribution'],
        summary: 'Enable sharing by installation link into the products (the link in `link`)',
        params: AppParams,
        body: z.object({ products: list }),
        response: { 200: SharingSchema, ...errorResponses(400, 404, 409, ...OPERATOR_ERRORS) },
      },
    },
    async (req) => enableSharing(ctx, req.params.appId, req.body.products, req.actor),
  );
  r.post(
    '/v1/apps/:appId/sharing/regenerate',
    {
      config: { audit: 'sharing.regenerate' },
      schema: {
        tags: ['distribution'],
        summary: 'A new installation link; the previous one stops working at once (cannot be undone)',
        params: AppParams,
        response: { 200: SharingSchema, ...errorResponses(404, 409, ...OPERATOR_ERRORS) },
      },
    },
    async (req) => regenerateLink(ctx, req.params.appId),
  );
  r.post(
    '/v1/apps/:appId/sharing/stop',
    {
      config: { audit: 'sharing.stop' },
      schema: {
        tags: ['distribution'],
        summary: 'Stop sharing: every link refused; existing installations keep working and updating',
        params: AppParams,
        response: { 200: SharingSchema, ...errorResponses(404, 409, ...OPERATOR_ERRORS) },
      },
    },
    async (req) => stopSharing(ctx, req.params.appId, req.actor),
  );
  r.post(
    '/v1/apps/:appId/listing',
    {
      config: { audit: 'listing.submit' },
      schema: {
        tags: ['distribution'],
        summary: 'Mark the app as submitted for a Marketplace listing (no sharing by link from then on)',
        params: AppParams,
        response: {
          200: open({ appId: z.string(), listingSubmittedAt: z.number().nullable() }),
          ...errorResponses(404, ...OPERATOR_ERRORS),
        },
      },
    },
    async (req) => submitListing(ctx, req.params.appId, req.actor),
  );
  r.post(
    '/v1/apps/:appId/connect-installations',
    {
      config: { audit: 'installation.install' },
      schema: {
        tags: ['distribution'],
        summary: "Install a Connect app on a site, as the site's product does (refused while blockInstall is true)",
        params: AppParams,
        body: z.object({ site: z.string() }),
        response: {
          200: InstallResultSchema.describe('the site had it already'),
          201: InstallResultSchema.describe('installed now (with `sharedSecret`)'),
          ...errorResponses(400, 403, 404, ...OPERATOR_ERRORS),
        },
      },
    },
    async (req, reply) => {
      req.auditTarget = { app: req.params.appId, site: req.body.site };
      const res = await installConnectApp(ctx, { appId: req.params.appId, site: req.body.site });
      req.auditTarget = {
        app: req.params.appId,
        site: req.body.site,
        installation: res.id,
        version: res.installation.version,
      };
      return reply.status(res.created ? 201 : 200).send(res);
    },
  );
}
