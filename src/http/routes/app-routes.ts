/**
 * Read-only operator API for apps and versions (the same data as `mpu apps` / `mpu versions`):
 * `GET /v1/apps`, `GET /v1/apps/:appId`, `GET /v1/apps/:appId/versions` (appId URL-encoded).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { HttpContext } from '../http-context.js';
import { AppParams, AppSchema, VersionSchema, VIEWER_ERRORS, errorResponses } from '../schemas.js';

/** Registers the app routes (viewer). */
export async function registerAppRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    '/v1/apps',
    {
      schema: {
        tags: ['apps'],
        summary: 'Registered apps',
        response: { 200: z.object({ apps: z.array(AppSchema) }), ...errorResponses(...VIEWER_ERRORS) },
      },
    },
    async () => ({ apps: await ctx.apps.listApps() }),
  );
  r.get(
    '/v1/apps/:appId',
    {
      schema: {
        tags: ['apps'],
        summary: 'One app, its next poll and its latest version',
        params: AppParams,
        response: {
          200: z.object({ app: AppSchema, nextPollAt: z.number().nullable(), latestVersion: z.string().nullable() }),
          ...errorResponses(404, ...VIEWER_ERRORS),
        },
      },
    },
    async (req) => {
      const found = await ctx.apps.requireApp(req.params.appId);
      const nextPollAt = await ctx.schedule.nextDue(found.id);
      const latest = await ctx.versions.latestVersion(found.id);
      return { app: found, nextPollAt, latestVersion: latest?.version ?? null };
    },
  );
  r.get(
    '/v1/apps/:appId/versions',
    {
      schema: {
        tags: ['apps'],
        summary: "An app's versions, oldest first",
        params: AppParams,
        response: { 200: z.object({ versions: z.array(VersionSchema) }), ...errorResponses(404, ...VIEWER_ERRORS) },
      },
    },
    async (req) => {
      await ctx.apps.requireApp(req.params.appId);
      return { versions: await ctx.versions.listVersions(req.params.appId) };
    },
  );
}
