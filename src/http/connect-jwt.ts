/**
 * Calls made *as* an installation, authenticated the Connect way (DESIGN.md "Connect to Forge
 * migration"; Atlassian's "Understanding JWT for Connect apps"): a JWT in `Authorization: JWT
 * <token>` (or `?jwt=`), whose `iss` is the installation's id (clientKey), signed with HMAC
 * (HS256/384/512) by the shared secret the installation received at install time, with `exp` and
 * a query-string hash (`qsh`) of this very request. Signing and the qsh are `atlassian-jwt`'s.
 */
import {
  createQueryStringHash,
  decodeSymmetric,
  fromMethodAndUrl,
  getAlgorithm,
  SymmetricAlgorithm,
} from 'atlassian-jwt';
import type { FastifyRequest } from 'fastify';
import { AppError, ErrorCode } from '../lib/errors.js';
import type { InstallationStore } from '../store/installation-store.js';
import type { SharingStore } from '../store/sharing-store.js';

/** Seconds a token's `exp` may lie in the past (clock skew between the caller and the daemon). */
export const JWT_LEEWAY_SECONDS = 30;

const unauthorized = (message: string, reason: string) =>
  new AppError(ErrorCode.UNAUTHORIZED, message, { details: { reason } });

/** The JWT of `req`: `Authorization: JWT <token>` (or `Bearer`), else the `jwt` query parameter. */
function tokenOf(req: FastifyRequest): string | undefined {
  const m = /^(?:JWT|Bearer)\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (m) return m[1];
  const q = (req.query as Record<string, unknown> | undefined)?.jwt;
  return typeof q === 'string' ? q : undefined;
}

/**
 * The installation `req` is made as, once its JWT is verified: signature with that installation's
 * shared secret, not expired at `nowMs` (epoch ms, with `JWT_LEEWAY_SECONDS`), and a `qsh` equal
 * to this request's (method, path, query).
 * @returns the installation's id
 * @throws AppError unauthorized (`details.reason`: `unsigned`, `malformed`, `unknown-issuer`,
 *   `no-secret`, `bad-signature`, `expired`, `qsh-mismatch`)
 */
export async function verifyInstallationJwt(
  req: FastifyRequest,
  stores: { installs: InstallationStore; sharing: SharingStore },
  nowMs: number,
): Promise<string> {
  const token = tokenOf(req);
  if (!token)
    throw unauthorized(
      "the request is not signed: send 'Authorization: JWT <token>', a JWT signed with the installation's shared secret (iss: its id; qsh of this request)",
      'unsigned',
    );
  let claims: { iss?: unknown; exp?: unknown; qsh?: unknown };
  let algorithm: SymmetricAlgorithm | undefined;
  try {
    const alg: unknown = getAlgorithm(token);
    algorithm = Object.values(SymmetricAlgorithm).find((a) => a === alg);
    if (!algorithm) throw unauthorized(`the JWT's algorithm ${String(alg)} is not HS256, HS384 or HS512`, 'malformed');
    // Unverified: the issuer names the secret to verify with.
    claims = decodeSymmetric(token, '', algorithm, true) as typeof claims;
  } catch (err) {
    throw err instanceof AppError ? err : unauthorized('the JWT is malformed', 'malformed');
  }
  if (typeof claims.iss !== 'string' || claims.iss === '')
    throw unauthorized("the JWT has no 'iss' (the calling installation's id)", 'malformed');
  const appId = await stores.installs.appOf(claims.iss);
  const secret = appId === null ? null : await stores.sharing.secretOf(appId, claims.iss);
  if (appId === null)
    throw unauthorized(`the JWT's issuer ${claims.iss} is not a registered installation`, 'unknown-issuer');
  if (secret === null)
    throw unauthorized(
      `installation ${claims.iss} has no shared secret (it was not installed through this service): it cannot sign calls`,
      'no-secret',
    );
  try {
    decodeSymmetric(token, secret, algorithm);
  } catch {
    throw unauthorized(
      `the JWT's signature does not match installation ${claims.iss}'s shared secret`,
      'bad-signature',
    );
  }
  if (typeof claims.exp !== 'number' || claims.exp + JWT_LEEWAY_SECONDS < nowMs / 1000)
    throw unauthorized('the JWT has expired (or has no exp)', 'expired');
  const qsh = createQueryStringHash(fromMethodAndUrl(req.method, req.url));
  if (claims.qsh !== qsh)
    throw unauthorized("the JWT's qsh does not match this request (method, path and query)", 'qsh-mismatch');
  return claims.iss;
}
