/**
 * Operator API for apps and versions (the same data as `mpu apps` / `mpu versions`):
 * `GET /v1/apps`, `GET /v1/apps/:appId`, `GET /v1/apps/:appId/versions` (appId URL-encoded);
 * `PUT|DELETE /v1/apps/:appId/phased-release` (operator, audited): the app's phased release of
 * automatic versions (`{ preset }` or `{ percents, intervalMs }`; rollout/phased-release.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { HttpContext } from '../http-context.js';
import { setAppPhasedRelease } from '../../app/rollout/phased-release.js';
import {
  AppParams,
  AppSchema,
  OPERATOR_ERRORS,
  PhaseScheduleBody,
  VersionSchema,
  VIEWER_ERRORS,
  errorResponses,
  open,
} from '../schemas.js';

const PhasedReleaseAnswer = z.object({
  appId: z.string(),
  phasedRelease: open({ percents: z.array(z.number()), intervalMs: z.number() }).nullable(),
});

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
  r.put(
    '/v1/apps/:appId/phased-release',
    {
      config: { audit: 'app.phased-release' },
      schema: {
        tags: ['apps'],
        summary: "Roll the app's automatic versions out in phases (a preset, or percentages and an interval)",
        params: AppParams,
        body: PhaseScheduleBody,
        response: { 200: PhasedReleaseAnswer, ...errorResponses(400, 404, ...OPERATOR_ERRORS) },
      },
    },
    async (req) => {
      const b = req.body as { preset?: string; percents?: number[]; intervalMs?: number };
      const s = await setAppPhasedRelease(
        ctx,
        req.params.appId,
        b.preset ?? { percents: b.percents, intervalMs: b.intervalMs },
      );
      return { appId: req.params.appId, phasedRelease: s };
    },
  );
  r.delete(
    '/v1/apps/:appId/phased-release',
    {
      config: { audit: 'app.phased-release' },
      schema: {
        tags: ['apps'],
        summary: "Turn the app's phased release off (rollouts in flight keep theirs)",
        params: AppParams,
        response: { 200: PhasedReleaseAnswer, ...errorResponses(404, ...OPERATOR_ERRORS) },
      },
    },
    async (req) => ({ appId: req.params.appId, phasedRelease: await setAppPhasedRelease(ctx, req.params.appId, null) }),
  );
}
