/**
 * Signed, expiring approval links (the Marketplace's "an admin approves the update" step, done
 * from the notice): an HMAC-SHA256 over the installation id, the app id, the version and the
 * expiry, with the approval secret. Pure: no clock reads (`now` is a parameter), no I/O; the
 * HTTP route verifies, the notify step signs through the `ApprovalLinks` port.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** What a link approves: one installation of one app, up to one version. */
export interface ApprovalGrant {
  installationId: string;
  appId: string;
  version: string;
  /** Expiry, epoch seconds (whole seconds keep the URL short). */
  expires: number;
}

/** A signed grant: the grant plus its signature (base64url, 43 characters). */
export interface SignedApproval extends ApprovalGrant {
  sig: string;
}

/** Why a link was refused; `tampered` also covers a link of another installation or version. */
export type ApprovalLinkProblem = 'tampered' | 'expired' | 'malformed';

/**
 * HKDF label that derives the approval secret from the webhook secret when `MPU_APPROVAL_SECRET`
 * is unset. A separate key, so a deploy-event signature can never pass as an approval, and
 * changing the label (or either secret) revokes every link issued.
 */
export const APPROVAL_SECRET_HKDF_INFO = 'mpu/approval-link/v1';

/** The approval secret derived from `webhookSecret` (HKDF-SHA256, info `APPROVAL_SECRET_HKDF_INFO`), hex. */
export function deriveApprovalSecret(webhookSecret: string): string {
  const key = hkdfSync('sha256', webhookSecret, 'mpu', APPROVAL_SECRET_HKDF_INFO, 32);
  return Buffer.from(key).toString('hex');
}

// JSON of an array: unambiguous whatever characters the ids hold (no separator to smuggle in).
function payload(g: ApprovalGrant): string {
  return JSON.stringify(['approve/v1', g.installationId, g.appId, g.version, g.expires]);
}

/** Signs `grant` with `secret`. */
export function signApproval(secret: string, grant: ApprovalGrant): SignedApproval {
  const sig = createHmac('sha256', secret).update(payload(grant)).digest('base64url');
  return { ...grant, sig };
}

/**
 * Checks a link's signature (constant time) and then its expiry against `now` (epoch ms).
 * Expiry is checked after the signature, so a forged link is never told it is merely expired.
 * @returns null when valid, else why not
 */
export function verifyApproval(secret: string, link: SignedApproval, now: number): ApprovalLinkProblem | null {
  if (!Number.isSafeInteger(link.expires) || !/^[A-Za-z0-9_-]{43}$/.test(link.sig)) return 'malformed';
  const expected = Buffer.from(signApproval(secret, link).sig);
  const given = Buffer.from(link.sig);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'tampered';
  if (now >= link.expires * 1000) return 'expired';
  return null;
}

/**
 * The URL of a signed link under `baseUrl` (e.g. `https://mpu.example.com`):
 * `<base>/v1/approval-links/<installation>?app=&version=&expires=&sig=`.
 */
export function approvalUrl(baseUrl: string, link: SignedApproval): string {
  // Appended, not resolved, so a base with a path (`https://host/mpu`) keeps it.
  const url = new URL(`${baseUrl.replace(/\/+$/, '')}/v1/approval-links/${encodeURIComponent(link.installationId)}`);
  url.searchParams.set('app', link.appId);
  url.searchParams.set('version', link.version);
  url.searchParams.set('expires', String(link.expires));
  url.searchParams.set('sig', link.sig);
  return url.toString();
}
