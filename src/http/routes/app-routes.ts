/**
 * Read-only operator API for apps and versions (the same data as `mpu apps` / `mpu versions`):
 * `GET /v1/apps`, `GET /v1/apps/:appId`, `GET /v1/apps/:appId/versions` (appId URL-encoded).
 */
import type { FastifyInstance } from 'fastify';
import type { HttpContext } from '../http-context.js';

export async function registerAppRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  app.get('/v1/apps', async () => ({ apps: await ctx.apps.listApps() }));
  app.get<{ Params: { appId: string } }>('/v1/apps/:appId', async (req) => {
    const found = await ctx.apps.requireApp(req.params.appId);
    const nextPollAt = await ctx.schedule.nextDue(found.id);
    const latest = await ctx.versions.latestVersion(found.id);
    return { app: found, nextPollAt, latestVersion: latest?.version ?? null };
  });
  app.get<{ Params: { appId: string } }>('/v1/apps/:appId/versions', async (req) => {
    await ctx.apps.requireApp(req.params.appId);
    return { versions: await ctx.versions.listVersions(req.params.appId) };
  });
}
