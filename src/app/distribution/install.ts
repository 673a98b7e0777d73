/**
 * Installing an app on a site: a Forge app by its installation link (DESIGN.md "Distribution
 * rules"; seed 000), and a Connect app as a product does it, refused while the app's latest
 * descriptor has `blockInstall: true` (DESIGN.md "Connect to Forge migration"; seed 004). A new
 * installation is registered on the app's latest published version (so it is planned into the
 * rollouts in flight and receives every later version by the usual rules, DESIGN.md "Rollout
 * rules") and receives its shared secret, shown once. Installing again on the same site answers
 * the existing installation. Throws AppError; the HTTP API and the CLI call these and audit them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { AppError, ErrorCode } from '../../lib/errors.js';
import type { InstallationView } from '../../store/installation-store.js';
import type { SiteRecord } from '../../store/site-store.js';
import { chooseProduct } from '../../versioning/connect-products.js';
import { requestedPermissions, type RequestedPermissions } from '../../versioning/permission-words.js';
import { registerInstallations } from '../rollout/installations.js';
import {
  checkLink,
  latestWithDescriptor,
  parseProducts,
  sharingRefusals,
  type DistributionContext,
} from './sharing.js';

/** What an install did. */
export interface InstallResult {
  /** True when this call created the installation; false when the site had it already. */
  created: boolean;
  /** The installation's id (its clientKey). */
  id: string;
  installation: InstallationView;
  /**
   * The installation's shared secret (Connect `sharedSecret`), only in the answer of the call that
   * created it: shown once. It signs the JWTs of calls made as the installation.
   */
  sharedSecret?: string;
  /** One line for a person. */
  message: string;
}

/** An installation link as given (app, products, signature). */
export interface LinkInput {
  appId: string;
  products: readonly string[];
  signature: string;
}

/** What the installation screen shows before installing. */
export interface LinkPreview {
  appId: string;
  /** `app.name` of the manifest, else the app id. */
  name: string;
  version: string;
  products: string[];
  permissions: RequestedPermissions;
}

/**
 * The id of `appId`'s installation on `site` when this service creates it: a UUID derived from
 * both (SHA-256), so two installs of the same site converge on one id.
 */
export function installationIdFor(appId: string, site: string): string {
  const h = createHash('sha256')
    .update(JSON.stringify(['installation/v1', appId, site]))
    .digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * The latest production version of a link's app and what it asks for, for the installation
 * screen (seed 000: "It displays information about your app, including the permissions your app
 * is requesting").
 * @throws AppError install-link-invalid, install-refused (the app may no longer be shared:
 *   licensed, listed, no production version)
 */
export async function previewLink(ctx: DistributionContext, link: LinkInput): Promise<LinkPreview> {
  const { app, record } = await checkLink(ctx, link);
  const refusals = await sharingRefusals(ctx, app, record);
  if (refusals.length) throw notShareable(app.id, refusals);
  const latest = (await latestWithDescriptor(ctx, app))!;
  const doc = latest.descriptor.document;
  const name = (doc.app as { name?: unknown } | null | undefined)?.name;
  return {
    appId: app.id,
    name: typeof name === 'string' && name.trim() ? name : app.id,
    version: latest.version.version,
    products: record.products,
    permissions: requestedPermissions(doc),
  };
}

function notShareable(appId: string, reasons: string[]): AppError {
  return new AppError(ErrorCode.INSTALL_REFUSED, `${appId} can't be installed by link: ${reasons.join('; ')}`, {
    details: { appId, reason: 'not-shareable', reasons },
  });
}

/**
 * Sites where `installer` may install a link's app: sites that run every product of the link,
 * where `installer` is an admin of one of them (seed 000: "they must be the admin of an Atlassian
 * app on that site"; "if you select both Jira and Confluence, your user can only install it on
 * sites running both").
 */
export function eligibleSites(
  sites: readonly SiteRecord[],
  products: readonly string[],
  installer: string,
): SiteRecord[] {
  return sites.filter(
    (s) => products.every((p) => s.products.includes(p)) && products.some((p) => s.admins[p]?.includes(installer)),
  );
}

/**
 * Installs a Forge app by its installation link on `site`, as `installer`, an admin of
 * `adminOf` there. The site must run every product the link names; the installation is made into
 * all of them, on the app's latest production version.
 * @throws AppError install-link-invalid (stale, stopped, forged), site-not-found,
 *   input-invalid (`adminOf` is not one of the link's products), install-refused (`details.reason`:
 *   `products-missing`, `not-admin`, `not-shareable`), config-invalid (no link secret)
 */
export async function installFromLink(
  ctx: DistributionContext,
  input: { link: LinkInput; site: string; adminOf: string; installer: string },
): Promise<InstallResult> {
  const { app, record } = await checkLink(ctx, input.link);
  const refusals = await sharingRefusals(ctx, app, record);
  if (refusals.length) throw notShareable(app.id, refusals);
  const site = await ctx.sites.require(input.site);
  const adminOf = input.adminOf.trim().toLowerCase();
  if (!record.products.includes(adminOf))
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `--admin-of must be one of the link's products (${record.products.join(', ')}), got '${input.adminOf}'`,
      { details: { products: record.products } },
    );
  const missing = record.products.filter((p) => !site.products.includes(p));
  if (missing.length)
    throw new AppError(
      ErrorCode.INSTALL_REFUSED,
      `${site.site} does not run ${missing.join(' and ')}: this link installs into ${record.products.join(' and ')}, so the site must run all of them`,
      { details: { site: site.site, reason: 'products-missing', missing, products: record.products } },
    );
  if (!site.admins[adminOf]?.includes(input.installer))
    throw new AppError(
      ErrorCode.INSTALL_REFUSED,
      `${input.installer} is not an admin of ${adminOf} on ${site.site}: only a site's admins install apps on it ('mpu sites add ${site.site} --admins ${adminOf}:${input.installer}')`,
      { details: { site: site.site, reason: 'not-admin', installer: input.installer, adminOf } },
    );
  const latest = (await latestWithDescriptor(ctx, app))!;
  return installOnSite(ctx, app.id, site.site, record.products, latest.version.version);
}

/**
 * Installs a Connect app on `site`, as the site's product does when an admin installs it: on the
 * app's latest published version, into the app's product (its registration's, else inferred from
 * the descriptor's module types), which the site must run. Refused while that version's
 * descriptor has `blockInstall: true`, with exactly seed 004's message; existing installations
 * are untouched (installing again on a site that has it answers the existing one).
 * @throws AppError app-not-found, input-invalid (a Forge app), version-not-found (no published
 *   version), site-not-found, install-blocked, install-refused (`products-missing`)
 */
export async function installConnectApp(
  ctx: DistributionContext,
  input: { appId: string; site: string },
): Promise<InstallResult> {
  const app = await ctx.apps.requireApp(input.appId);
  if (app.kind !== 'connect')
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `${app.id} is a Forge app: Forge apps are installed by their installation link ('mpu install LINK --site …')`,
    );
  const latest = await latestWithDescriptor(ctx, app);
  if (!latest)
    throw new AppError(ErrorCode.VERSION_NOT_FOUND, `Connect app ${app.id} has no published version yet`, {
      details: { appId: app.id },
    });
  const site = await ctx.sites.require(input.site);
  const existing = await ctx.installs.onSite(app.id, site.site);
  if (existing) return existingResult(ctx, existing);
  if (latest.descriptor.document.blockInstall === true)
    throw new AppError(ErrorCode.INSTALL_BLOCKED, `The app vendor has blocked addon ${app.id} from being installed.`, {
      details: { appId: app.id, version: latest.version.version, site: site.site },
    });
  const product = chooseProduct(latest.descriptor.document, app.product, "the app's registration").product;
  if (!site.products.includes(product))
    throw new AppError(
      ErrorCode.INSTALL_REFUSED,
      `${site.site} does not run ${product}, the product of Connect app ${app.id}`,
      { details: { site: site.site, reason: 'products-missing', missing: [product], products: [product] } },
    );
  return installOnSite(ctx, app.id, site.site, [product], latest.version.version);
}

async function existingResult(ctx: DistributionContext, id: string): Promise<InstallResult> {
  const installation = await ctx.installs.get(id);
  return {
    created: false,
    id,
    installation,
    message: `${installation.appId} is already installed on ${installation.site} (installation ${id}, version ${installation.version}); its shared secret was shown when it was installed`,
  };
}

/**
 * Registers `appId`'s installation on `site` unless the site has one, then gives it its shared
 * secret. The secret is stored once (HSETNX): the call that stores it is the one that shows it,
 * so two concurrent installs show it once; an installation without one (registered by an import,
 * or an install interrupted before its secret was stored) gets it from the next install.
 */
async function installOnSite(
  ctx: DistributionContext,
  appId: string,
  site: string,
  products: readonly string[],
  version: string,
): Promise<InstallResult> {
  const existing = await ctx.installs.onSite(appId, site);
  if (existing && (await ctx.sharing.secretOf(appId, existing)) !== null) return existingResult(ctx, existing);
  const id = existing ?? installationIdFor(appId, site);
  if (!existing) await registerInstallations(ctx, [{ id, appId, site, products: parseProducts(products), version }]);
  const sharedSecret = randomBytes(32).toString('base64url');
  if (!(await ctx.sharing.setSecretOnce(appId, id, sharedSecret))) return existingResult(ctx, id);
  const installation = await ctx.installs.get(id);
  ctx.logger.info(
    { event: 'installation:installed', appId, installationId: id, site, version: installation.version },
    `${appId} installed on ${site}`,
  );
  return {
    created: !existing,
    id,
    installation,
    sharedSecret,
    message: existing
      ? `${appId} was already installed on ${site} (installation ${id}, version ${installation.version}) without a shared secret (registered by an import, or an install interrupted): this is its shared secret, shown once`
      : `installed ${appId}@${installation.version} on ${site} as installation ${id}`,
  };
}
