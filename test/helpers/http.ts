/**
 * The HTTP API as tests build it: `buildApp` with one operator and one viewer token, the audit
 * trail on the context's connection and prefix, installation links signed with a key derived from
 * the approval secret (as the daemon's), and headers that carry each token.
 */
import type { FastifyInstance } from 'fastify';
import { buildApp, type BuildAppOptions } from '../../src/http/build-app.js';
import type { HttpContext } from '../../src/http/http-context.js';
import { AuditStore } from '../../src/store/audit-store.js';
import { deriveInstallLinkSecret } from '../../src/lib/install-link.js';

export const OPERATOR = { name: 'alice', token: 'operator-token-0123456789abcdef' };
export const VIEWER = { name: 'grafana', token: 'viewer-token-0123456789abcdef' };
export const APPROVAL_SECRET = 'approval-secret-0123456789';
/** Headers of an operator's request. */
export const asOperator = { authorization: `Bearer ${OPERATOR.token}` };
/** Headers of a viewer's request. */
export const asViewer = { authorization: `Bearer ${VIEWER.token}` };
/** Where the test app's installation links point. */
export const PUBLIC_URL = 'https://mpu.example.com';

/** `buildApp` for `ctx` with the test tokens; `over` replaces any option. */
export async function buildTestApp(
  ctx: HttpContext,
  over: Partial<BuildAppOptions> = {},
): Promise<{ app: FastifyInstance; audit: AuditStore }> {
  const audit = over.audit ?? new AuditStore(ctx.connection, ctx.keys);
  // As the daemon's context has them (derived from the approval secret): installation links.
  ctx.installLinks ??= { secret: deriveInstallLinkSecret(APPROVAL_SECRET), baseUrl: PUBLIC_URL };
  const app = await buildApp({
    ctx,
    webhookSecret: 'test-webhook-secret-0123456789',
    operatorTokens: [OPERATOR],
    viewerTokens: [VIEWER],
    approvalSecret: APPROVAL_SECRET,
    audit,
    ...over,
  });
  return { app, audit };
}
