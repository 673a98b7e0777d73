/**
 * Signed installation links of apps shared by link (DESIGN.md "Distribution rules"; seed 000
 * "Start sharing your app", "Restrict installation links"): an HMAC-SHA256 over the app id, the
 * products the link installs into, the link's generation and the sharing record's salt, with the
 * install-link secret. Regenerating a link bumps the generation, so every older link stops
 * verifying at once; the salt (random per sharing record) keeps a link of a removed and
 * re-registered app from verifying again. Pure: no I/O, no clock.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** HKDF label of the install-link secret, derived from the approval secret: a key of its own. */
export const INSTALL_LINK_HKDF_INFO = 'mpu/install-link/v1';

/**
 * The install-link secret derived from `approvalSecret` (MPU_APPROVAL_SECRET, or the one derived
 * from MPU_WEBHOOK_SECRET; README "Security") with HKDF-SHA256, info `INSTALL_LINK_HKDF_INFO`, hex.
 */
export function deriveInstallLinkSecret(approvalSecret: string): string {
  return Buffer.from(hkdfSync('sha256', approvalSecret, 'mpu', INSTALL_LINK_HKDF_INFO, 32)).toString('hex');
}

/** What a link installs: one app into a set of products, at one generation of its sharing record. */
export interface InstallGrant {
  appId: string;
  /** Products, as in the link (sorted and deduplicated by `normalizeProducts`). */
  products: readonly string[];
  /** Link generation (1 for the first link; +1 per regeneration or re-enable). */
  generation: number;
  /** The sharing record's salt (hex). */
  salt: string;
}

/** Products sorted, trimmed, lower-case and deduplicated: the form signatures cover. */
export function normalizeProducts(products: readonly string[]): string[] {
  return [...new Set(products.map((p) => p.trim().toLowerCase()).filter(Boolean))].sort();
}

/** The signature of `grant` (base64url, 43 characters). */
export function signInstallLink(secret: string, grant: InstallGrant): string {
  const payload = JSON.stringify([
    'install/v1',
    grant.appId,
    normalizeProducts(grant.products),
    grant.generation,
    grant.salt,
  ]);
  return createHmac('sha256', secret).update(payload).digest('base64url');
}

/** Constant-time comparison of two signatures. */
function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** How a link compares with the sharing record: current, one of an earlier generation, or none. */
export type LinkMatch = 'current' | 'stale' | 'forged';

/** How many earlier generations `matchInstallLink` looks through to call a link stale rather than forged. */
export const STALE_GENERATIONS_CHECKED = 1000;

/**
 * Compares a link's signature and products with the record's current grant: `current` when it
 * is the current link; `stale` when it was signed for an earlier generation (regenerated,
 * re-enabled, or with other products); otherwise `forged`.
 */
export function matchInstallLink(
  secret: string,
  current: InstallGrant,
  link: { products: readonly string[]; signature: string },
): LinkMatch {
  if (!/^[A-Za-z0-9_-]{43}$/.test(link.signature)) return 'forged';
  const products = normalizeProducts(link.products);
  const sameProducts = products.join(',') === normalizeProducts(current.products).join(',');
  if (sameProducts && same(signInstallLink(secret, current), link.signature)) return 'current';
  const oldest = Math.max(1, current.generation - STALE_GENERATIONS_CHECKED);
  for (let g = current.generation; g >= oldest; g--) {
    if (same(signInstallLink(secret, { ...current, products, generation: g }), link.signature)) return 'stale';
  }
  return 'forged';
}

/**
 * The URL of a link under `baseUrl` (MPU_PUBLIC_URL, e.g. `https://mpu.example.com`):
 * `<base>/install/<app, URL-encoded>?signature=…&product=jira,confluence` (seed 000's
 * `…/install/<app>?signature=…&product=…`).
 */
export function installLinkUrl(baseUrl: string, grant: InstallGrant, signature: string): string {
  const url = new URL(`${baseUrl.replace(/\/+$/, '')}/install/${encodeURIComponent(grant.appId)}`);
  url.searchParams.set('signature', signature);
  url.searchParams.set('product', normalizeProducts(grant.products).join(','));
  // Commas are legal in a query; keep them readable as in seed 000's example.
  return url.toString().replace(/%2C/g, ',');
}

/**
 * The app, products and signature of a link URL (absolute, or a path with its query).
 * @returns null when it is not an installation link (no `/install/<app>` path or no signature)
 */
export function parseInstallLinkUrl(link: string): { appId: string; products: string[]; signature: string } | null {
  let url: URL;
  try {
    url = new URL(link, 'http://link.invalid');
  } catch {
    return null;
  }
  const m = /\/install\/([^/]+)\/?$/.exec(url.pathname);
  const signature = url.searchParams.get('signature');
  if (!m || !signature) return null;
  let appId: string;
  try {
    appId = decodeURIComponent(m[1]!);
  } catch {
    return null;
  }
  return { appId, products: (url.searchParams.get('product') ?? '').split(','), signature };
}
