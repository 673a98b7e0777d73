/**
 * The Forge deploy event, its zod schema and its signature.
 * Signature: `x-mpu-signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>` with
 * `x-mpu-timestamp: <epoch seconds>`; accepted within 5 minutes of the server clock, compared in
 * constant time. `eventId` is unique per delivery (replays are refused); `deploymentId` names the
 * deployment (a repeated one creates nothing new).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { FORGE_ARI } from '../store/app-store.js';

export const DeployEvent = z.object({
  eventId: z.string().min(1).max(200),
  appId: z.string().regex(FORGE_ARI, 'expected a Forge app ARI ari:cloud:ecosystem::app/<uuid>'),
  environment: z.string().min(1).max(100),
  deploymentId: z.string().min(1).max(200),
  /** manifest.yml text. */
  manifest: z.string().min(1),
  /** ISO 8601 time of the deployment. */
  deployedAt: z.iso.datetime({ offset: true }),
});
export type DeployEvent = z.infer<typeof DeployEvent>;

export const SIGNATURE_HEADER = 'x-mpu-signature';
export const TIMESTAMP_HEADER = 'x-mpu-timestamp';
/** Accepted clock skew between sender and server, ms. @defaultValue 5 minutes */
export const SIGNATURE_TOLERANCE_MS = 5 * 60_000;

/** `sha256=<hex>` for `timestamp` (epoch seconds, as sent) and the raw body. */
export function signDeployEvent(secret: string, timestamp: string, rawBody: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex');
}

/** Why a signature was refused, or null when it is valid. Constant-time on the digest. */
export function checkSignature(
  secret: string,
  headers: { signature?: string; timestamp?: string },
  rawBody: string,
  now: number,
  toleranceMs = SIGNATURE_TOLERANCE_MS,
): string | null {
  const { signature, timestamp } = headers;
  if (!signature || !timestamp) return `missing ${SIGNATURE_HEADER} or ${TIMESTAMP_HEADER} header`;
  if (!/^\d{1,12}$/.test(timestamp)) return `${TIMESTAMP_HEADER} must be epoch seconds`;
  if (Math.abs(now - Number(timestamp) * 1000) > toleranceMs)
    return `timestamp outside the ${toleranceMs / 60_000}-minute tolerance`;
  const expected = Buffer.from(signDeployEvent(secret, timestamp, rawBody));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'signature does not match';
  return null;
}
