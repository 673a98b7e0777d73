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

/**
 * A Forge environment name: lower-case ASCII letters, digits and `-`, starting with a letter, at
 * most 63 characters. Forge's environments are `development`, `staging`, `production` and the
 * ones `forge environments create` adds, all lower-case; the daemon compares the name with
 * `production` byte for byte, so a look-alike (`Production`, `production` with a zero-width
 * space, a Cyrillic `р`) would otherwise be stored as a new environment instead of refused.
 */
export const ENVIRONMENT_NAME = /^[a-z][a-z0-9-]{0,62}$/;
/**
 * An event or deployment id: 1 to 200 ASCII letters, digits, `_`, `.`, `:` and `-` (UUIDs, as
 * Forge and `mpu forge deploy` send, and the demo's `<app>-deploy-<n>`). Ids become Redis key
 * and hash field names and job ids: no control, invisible, bidirectional or look-alike characters.
 */
export const DEPLOY_ID = /^[A-Za-z0-9_.:-]{1,200}$/;

// Latin look-alikes that a mistyped or spoofed name carries (Cyrillic and Greek homoglyphs of
// the letters environment names use), for the "did you mean" of a refusal.
const LOOK_ALIKES: Record<string, string> = {
  а: 'a',
  в: 'b',
  с: 'c',
  ԁ: 'd',
  е: 'e',
  һ: 'h',
  і: 'i',
  ј: 'j',
  к: 'k',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  ѕ: 's',
  т: 't',
  у: 'y',
  х: 'x',
  ο: 'o',
  α: 'a',
  ε: 'e',
  ι: 'i',
  κ: 'k',
  ν: 'v',
  ρ: 'p',
  τ: 't',
  υ: 'u',
};

/** Format (zero-width, bidirectional), control and separator characters other than the space. */
const INVISIBLE = /[\p{Cf}\p{Cc}\p{Zl}\p{Zp}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/u;

/** `U+0440` for one code point. */
const codePoint = (ch: string): string => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Why `value` is not a valid `field` (names the non-ASCII or disallowed characters by code
 * point, and suggests the ASCII name it looks like), or null when it is valid.
 */
export function describeBadName(field: string, value: string, pattern: RegExp, allowed: string): string | null {
  if (pattern.test(value)) return null;
  const chars = [...value];
  const nonAscii = chars.filter((c) => c.codePointAt(0)! > 0x7e || c.codePointAt(0)! < 0x20);
  // Invisible, control and bidirectional characters are shown escaped, never echoed as they are.
  const shown = chars.map((c) => (INVISIBLE.test(c) ? `\\u{${c.codePointAt(0)!.toString(16)}}` : c)).join('');
  let problem: string;
  if (nonAscii.length) {
    const list = [...new Set(nonAscii.map(codePoint))];
    problem = `contains non-ASCII or control characters (${list.slice(0, 5).join(', ')}${list.length > 5 ? ', …' : ''})`;
  } else if (field === 'environment' && value !== value.toLowerCase() && pattern.test(value.toLowerCase())) {
    problem = 'must be lower-case';
  } else {
    problem = `must be ${allowed}`;
  }
  // For a name (not an id): invisible characters dropped, look-alikes mapped, lower-cased.
  const guess = chars
    .filter((c) => !INVISIBLE.test(c))
    .map((c) => LOOK_ALIKES[c] ?? c)
    .join('')
    .toLowerCase();
  const hint = field === 'environment' && pattern.test(guess) ? `: did you mean '${guess}'?` : '';
  return `${field} '${shown}' ${problem}${hint}`;
}

/** A name field checked against `pattern`, refused with `describeBadName`'s message. */
const nameField = (field: string, pattern: RegExp, allowed: string) =>
  z.string().superRefine((v, ctx) => {
    const problem = describeBadName(field, v, pattern, allowed);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** A Forge deploy event, as the HTTP intake accepts it (every field checked, nothing coerced). */
export const DeployEvent = z.object({
  eventId: nameField('eventId', DEPLOY_ID, '1 to 200 of A-Z a-z 0-9 _ . : -'),
  appId: z.string().regex(FORGE_ARI, 'expected a Forge app ARI ari:cloud:ecosystem::app/<uuid>'),
  environment: nameField(
    'environment',
    ENVIRONMENT_NAME,
    'a lower-case letter, then up to 62 lower-case letters, digits or -',
  ),
  deploymentId: nameField('deploymentId', DEPLOY_ID, '1 to 200 of A-Z a-z 0-9 _ . : -'),
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
