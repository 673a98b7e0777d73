/**
 * Authentication and roles of the HTTP API (README "Security"). Every route needs a token unless
 * its config says `access: 'public'` (`/healthz`, the deploy intake, which its HMAC signature
 * authenticates, approval links, which their own signature does, and the API's description,
 * `/openapi.json` and Swagger UI at `/docs`, which hold no secret: openapi.ts):
 * - `viewer` tokens may read: by default every GET/HEAD route needs `viewer` (`/metrics` too);
 * - `operator` tokens may do everything: every other method needs `operator`, as does bull-board.
 * A route may set `config.access` itself. Credentials: `Authorization: Bearer <token>`; routes
 * with `config.cookieAuth` (bull-board) also take the `mpu_token` cookie, set by one visit with
 * `?token=<token>`. No or unknown credentials → 401 `unauthorized` with `WWW-Authenticate: Bearer`;
 * a viewer's write → 403 `forbidden`. Tokens are compared in constant time and never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ErrorCode, httpStatusFor } from '../lib/errors.js';
import type { NamedToken } from '../config/config.js';
import type { AuditAction, AuditTarget } from '../store/audit-store.js';

/** What a token may do. Operators include everything viewers may. */
export type Role = 'viewer' | 'operator';
/** What a route needs: no credentials, or a role. */
export type RouteAccess = 'public' | Role;

/** The authenticated caller: the token's configured name and role. */
export interface Principal {
  name: string;
  role: Role;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route. @defaultValue `viewer` for GET/HEAD, else `operator` */
    access?: RouteAccess;
    /** Also accept the `mpu_token` cookie and `?token=` (bull-board's UI cannot send headers). */
    cookieAuth?: boolean;
    /** Path of the cookie set by `?token=`. @defaultValue `/` */
    cookiePath?: string;
    /**
     * Also accept a call made as an installation (`Authorization: JWT <token>`, connect-jwt.ts):
     * the hook lets such a request through unauthenticated and the route verifies the JWT itself.
     */
    installationJwt?: boolean;
    /** The audit action the route performs (audit.ts), or a function of the request for routes with several. */
    audit?: AuditAction | ((req: FastifyRequest) => AuditAction | undefined);
  }
  interface FastifyRequest {
    /** The caller, once authenticated; null on public routes and before the auth hook. */
    principal: Principal | null;
    /** Who the audit trail names: the token's name, or what a public route sets (`link:<id>`, `deploy-hook`). */
    actor: string;
    /** What the audit trail records the action was about; routes fill it. */
    auditTarget: AuditTarget;
    /** The error code the request failed with (set by the error handler), for the audit trail. */
    errorCode: string | null;
  }
}

/** Options of `installAuth`. */
export interface AuthOptions {
  operators: readonly NamedToken[];
  viewers: readonly NamedToken[];
}

/** Name of the cookie bull-board's browser session carries. */
export const TOKEN_COOKIE = 'mpu_token';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Finds the principal of `given`. Every configured token is compared (SHA-256 digests, equal
 * lengths, `timingSafeEqual`), without stopping at a match, so timing says nothing about which
 * token or how much of it matched.
 */
function findPrincipal(table: readonly { digest: Buffer; principal: Principal }[], given: string): Principal | null {
  const d = digest(given);
  let found: Principal | null = null;
  for (const t of table) if (timingSafeEqual(t.digest, d) && found === null) found = t.principal;
  return found;
}

function bearerOf(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
  return m?.[1];
}

function cookieOf(req: FastifyRequest): string | undefined {
  const raw = new RegExp(`(?:^|;\\s*)${TOKEN_COOKIE}=([^;]+)`).exec(req.headers.cookie ?? '')?.[1];
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/**
 * Answers `err` directly rather than throwing it: bull-board's scope has an error handler of its
 * own, and a refusal must look the same on every route (error-handler.ts's body).
 */
function refuse(req: FastifyRequest, reply: FastifyReply, err: AppError): FastifyReply {
  req.errorCode = err.code;
  return reply
    .status(httpStatusFor(err.code))
    .send({ error: { code: err.code, message: err.message, details: err.details ?? {} } });
}

/**
 * The principal of a token (operator or viewer), or null: every configured token compared in
 * constant time. For routes that take a token elsewhere than the header (the installation
 * screen's form).
 */
export function createTokenVerifier(opts: AuthOptions): (token: string) => Principal | null {
  const table = [
    ...opts.operators.map((t) => ({ digest: digest(t.token), principal: { name: t.name, role: 'operator' as const } })),
    ...opts.viewers.map((t) => ({ digest: digest(t.token), principal: { name: t.name, role: 'viewer' as const } })),
  ];
  return (token) => findPrincipal(table, token);
}

/** The access a route needs: its config's, else by method. */
export function requiredAccess(req: FastifyRequest): RouteAccess {
  return req.routeOptions.config.access ?? (req.method === 'GET' || req.method === 'HEAD' ? 'viewer' : 'operator');
}

/**
 * Installs the authentication hook on `app` (call before registering routes). Also decorates
 * the request with `principal`, `actor`, `auditTarget` and `errorCode`.
 */
export function installAuth(app: FastifyInstance, opts: AuthOptions): void {
  const verify = createTokenVerifier(opts);
  app.decorateRequest('principal', null);
  app.decorateRequest('actor', 'anonymous');
  app.decorateRequest('auditTarget', null as unknown as AuditTarget);
  app.decorateRequest('errorCode', null);
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    req.auditTarget = {};
    const access = requiredAccess(req);
    if (access === 'public') return;
    if (req.routeOptions.config.installationJwt === true && /^JWT\s/i.test(req.headers.authorization ?? '')) return;
    const cookieAuth = req.routeOptions.config.cookieAuth === true;
    const query = cookieAuth ? (req.query as Record<string, unknown> | undefined)?.token : undefined;
    const given =
      bearerOf(req) ?? (cookieAuth ? (cookieOf(req) ?? (typeof query === 'string' ? query : undefined)) : undefined);
    const principal = given === undefined ? null : verify(given);
    if (!principal) {
      reply.header(
        'www-authenticate',
        given === undefined ? 'Bearer realm="mpu"' : 'Bearer realm="mpu", error="invalid_token"',
      );
      return refuse(
        req,
        reply,
        new AppError(
          ErrorCode.UNAUTHORIZED,
          given === undefined
            ? `${access === 'operator' ? 'an operator' : 'a viewer or operator'} token is required: send 'Authorization: Bearer <token>'`
            : 'the token is not valid (not one of MPU_OPERATOR_TOKENS or MPU_VIEWER_TOKENS)',
        ),
      );
    }
    req.principal = principal;
    req.actor = principal.name;
    if (access === 'operator' && principal.role !== 'operator') {
      return refuse(
        req,
        reply,
        new AppError(
          ErrorCode.FORBIDDEN,
          `'${principal.name}' is a viewer: ${req.method} ${req.routeOptions.url ?? req.url} needs an operator token`,
          { details: { role: principal.role, required: access } },
        ),
      );
    }
    // One visit with ?token= sets the cookie, so bull-board's assets and API calls pass.
    if (cookieAuth && typeof query === 'string' && query === given) {
      reply.header(
        'set-cookie',
        `${TOKEN_COOKIE}=${encodeURIComponent(given)}; Path=${req.routeOptions.config.cookiePath ?? '/'}; HttpOnly; SameSite=Strict`,
      );
    }
  });
}
