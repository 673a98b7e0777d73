/**
 * Sharing a Forge app by installation link (DESIGN.md "Distribution rules"; seed 000 "Distribute
 * your apps"): enable (the link), show, regenerate (the previous link stops working at once; it
 * cannot be undone), stop (every link refused; existing installations keep working and updating)
 * and the Marketplace listing submission, which, like a license in the manifest, rules sharing
 * out. Links are checked here for the installation screen and the install itself. Throws
 * AppError; the HTTP API and the CLI call these and audit them.
 */
import { AppError, ErrorCode } from '../../lib/errors.js';
import {
  installLinkUrl,
  matchInstallLink,
  normalizeProducts,
  signInstallLink,
  type InstallGrant,
} from '../../lib/install-link.js';
import type { AppRecord } from '../../store/app-store.js';
import type { SharingRecord } from '../../store/sharing-store.js';
import type { VersionRecord } from '../../store/types.js';
import type { ParsedDescriptor } from '../../versioning/types.js';
import type { AppContext, RolloutContext } from '../context.js';

/** The install-link secret (derived from the approval secret) and the public base URL links point at. */
export interface InstallLinkKeys {
  secret: string;
  /** MPU_PUBLIC_URL, e.g. `https://mpu.example.com`. */
  baseUrl: string;
}

/** What the distribution use cases read and write. */
export type DistributionContext = RolloutContext & Pick<AppContext, 'sites' | 'sharing' | 'installLinks'>;

/**
 * An app's sharing state as operators see it (`mpu apps sharing show`, `GET /v1/apps/:appId/sharing`);
 * the signatures' salt stays in the store.
 */
export interface SharingView extends Omit<SharingRecord, 'salt'> {
  /** The current installation link while sharing is enabled, else null. */
  link: string | null;
  /** Whether this call changed anything (false: enabling again with the same products, stopping twice). */
  changed: boolean;
  /** Why a link would be refused now, in words (license, listing, no production version); empty when none. */
  refusals: string[];
}

/** Product names a link may carry: lower-case words (`jira`, `confluence`, `jira-servicedesk`). */
const PRODUCT = /^[a-z][a-z0-9-]{0,39}$/;

/**
 * `products` as a link carries them (sorted, deduplicated).
 * @throws AppError input-invalid when empty or a name is not a product name
 */
export function parseProducts(products: readonly string[] | string): string[] {
  const list = normalizeProducts(typeof products === 'string' ? products.split(',') : products);
  const bad = list.filter((p) => !PRODUCT.test(p));
  if (list.length === 0 || bad.length)
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      list.length === 0
        ? 'name the products the link installs into, e.g. --products jira,confluence'
        : `not a product name: ${bad.join(', ')} (lower-case, e.g. jira, confluence)`,
      { details: { products: list } },
    );
  return list;
}

/** The latest published version of `appId` (published: detected at or before `now`), or null. */
export async function latestPublished(
  ctx: Pick<RolloutContext, 'versions' | 'clock'>,
  appId: string,
): Promise<VersionRecord | null> {
  const now = ctx.clock.now();
  const all = await ctx.versions.listVersions(appId);
  for (let i = all.length - 1; i >= 0; i--) if (all[i]!.detectedAt <= now) return all[i]!;
  return null;
}

/** The app's latest published version with its parsed descriptor or manifest, or null when it has none. */
export async function latestWithDescriptor(
  ctx: Pick<RolloutContext, 'versions' | 'clock' | 'descriptors'>,
  app: AppRecord,
): Promise<{ version: VersionRecord; descriptor: ParsedDescriptor } | null> {
  const version = await latestPublished(ctx, app.id);
  if (!version) return null;
  return { version, descriptor: await ctx.descriptors.getDescriptor(app.id, version.descriptorHash, app.kind) };
}

/** Whether a Forge manifest carries a license (`app.licensing.enabled: true`; seed 000). */
function licensed(manifest: Record<string, unknown>): boolean {
  const app = manifest.app as { licensing?: { enabled?: unknown } } | null | undefined;
  return app?.licensing?.enabled === true;
}

/**
 * Why `app` cannot be shared by link now (seed 000: "Apps that already have a license in the app
 * manifest or have been submitted for listing on Marketplace can't be shared via installation
 * link"; a link installs the latest production version, so there must be one). Empty when it can.
 */
export async function sharingRefusals(
  ctx: Pick<RolloutContext, 'versions' | 'clock' | 'descriptors'>,
  app: AppRecord,
  record: SharingRecord,
): Promise<string[]> {
  if (app.kind !== 'forge')
    return [`${app.id} is a Connect app: sharing by installation link is for Forge apps (seed 000)`];
  const out: string[] = [];
  const latest = await latestWithDescriptor(ctx, app);
  if (!latest)
    out.push(
      `${app.id} has no production version yet: deploy it to the production environment first ('mpu forge deploy --env production')`,
    );
  else if (licensed(latest.descriptor.document))
    out.push(
      `the manifest of ${app.id}@${latest.version.version} has a license (app.licensing.enabled): a licensed app can't be shared by installation link; copy the app's code, create a new, unlicensed version of the app, and share that one`,
    );
  if (record.listingSubmittedAt !== null)
    out.push(
      `${app.id} was submitted for listing on the Marketplace (${new Date(record.listingSubmittedAt).toISOString()}): a listed app can't be shared by installation link; share an unlisted copy instead`,
    );
  return out;
}

/** The signing keys. @throws AppError config-invalid when the daemon has no install-link secret */
function keysOf(ctx: Pick<DistributionContext, 'installLinks'>): InstallLinkKeys {
  if (!ctx.installLinks)
    throw new AppError(
      ErrorCode.CONFIG_INVALID,
      'installation links need a secret: set MPU_APPROVAL_SECRET or MPU_WEBHOOK_SECRET (the link key is derived from it)',
    );
  return ctx.installLinks;
}

function grantOf(r: SharingRecord): InstallGrant {
  return { appId: r.appId, products: r.products, generation: r.generation, salt: r.salt };
}

/** The current link of `r` (signed with `keys`), or null when sharing is not enabled. */
function linkOf(keys: InstallLinkKeys, r: SharingRecord): string | null {
  if (r.status !== 'enabled') return null;
  return installLinkUrl(keys.baseUrl, grantOf(r), signInstallLink(keys.secret, grantOf(r)));
}

async function view(
  ctx: DistributionContext,
  app: AppRecord,
  r: SharingRecord,
  changed: boolean,
): Promise<SharingView> {
  const { salt: _salt, ...shown } = r;
  return { ...shown, link: linkOf(keysOf(ctx), r), changed, refusals: await sharingRefusals(ctx, app, r) };
}

/**
 * Enables sharing of a Forge app into `products` and returns its installation link. Enabling
 * again with the same products changes nothing (same link); with other products, or after a stop,
 * it makes a new link (earlier ones stay refused).
 * @param actor who enabled it (audit trail name)
 * @throws AppError app-not-found, input-invalid (products), sharing-refused (a Connect app, no
 *   production version, a license in the manifest, submitted for listing: `details.reasons`),
 *   config-invalid (no link secret)
 */
export async function enableSharing(
  ctx: DistributionContext,
  appId: string,
  products: readonly string[] | string,
  actor: string,
): Promise<SharingView> {
  const list = parseProducts(products);
  keysOf(ctx);
  const app = await ctx.apps.requireApp(appId);
  const current = await ctx.sharing.get(appId);
  const refusals = await sharingRefusals(ctx, app, current);
  if (refusals.length)
    throw new AppError(
      ErrorCode.SHARING_REFUSED,
      `${appId} can't be shared by installation link: ${refusals.join('; ')}`,
      {
        details: { appId, reasons: refusals },
      },
    );
  if (current.status === 'enabled' && current.products.join(',') === list.join(','))
    return view(ctx, app, current, false);
  const r = await ctx.sharing.enable(appId, list, ctx.clock.now(), actor);
  ctx.logger.info(
    { event: 'sharing:enabled', appId, products: list, generation: r.generation },
    `sharing of ${appId} enabled`,
  );
  return view(ctx, app, r, true);
}

/** The app's sharing state and current link. @throws AppError app-not-found, config-invalid */
export async function showSharing(ctx: DistributionContext, appId: string): Promise<SharingView> {
  const app = await ctx.apps.requireApp(appId);
  return view(ctx, app, await ctx.sharing.get(appId), false);
}

/**
 * A new installation link: the previous one stops working at once (seed 000 "Restrict
 * installation links": this can't be undone). Existing installations are not touched.
 * @throws AppError app-not-found, sharing-refused (sharing is not enabled), config-invalid
 */
export async function regenerateLink(ctx: DistributionContext, appId: string): Promise<SharingView> {
  keysOf(ctx);
  const app = await ctx.apps.requireApp(appId);
  const current = await ctx.sharing.get(appId);
  if (current.status !== 'enabled')
    throw new AppError(
      ErrorCode.SHARING_REFUSED,
      `sharing of ${appId} is ${current.status === 'off' ? 'not enabled' : 'stopped'}: there is no link to regenerate ('mpu apps sharing enable ${appId} --products …')`,
      { details: { appId, status: current.status } },
    );
  const r = await ctx.sharing.regenerate(appId, ctx.clock.now());
  ctx.logger.info({ event: 'sharing:regenerated', appId, generation: r.generation }, `link of ${appId} regenerated`);
  return view(ctx, app, r, true);
}

/**
 * Stops sharing: every installation link is refused; existing installations keep working and
 * keep updating (seed 000 "Stop sharing your app"). Stopping twice changes nothing.
 * @throws AppError app-not-found, sharing-refused (never enabled), config-invalid
 */
export async function stopSharing(ctx: DistributionContext, appId: string, actor: string): Promise<SharingView> {
  keysOf(ctx);
  const app = await ctx.apps.requireApp(appId);
  const current = await ctx.sharing.get(appId);
  if (current.status === 'off')
    throw new AppError(ErrorCode.SHARING_REFUSED, `sharing of ${appId} was never enabled: nothing to stop`, {
      details: { appId, status: current.status },
    });
  if (current.status === 'stopped') return view(ctx, app, current, false);
  const r = await ctx.sharing.stop(appId, ctx.clock.now(), actor);
  ctx.logger.info({ event: 'sharing:stopped', appId }, `sharing of ${appId} stopped`);
  return view(ctx, app, r, true);
}

/**
 * Marks an app as submitted for a Marketplace listing (an app property; a second submission keeps
 * the first time). From then on its links are refused and sharing cannot be enabled (seed 000).
 * @throws AppError app-not-found
 */
export async function submitListing(ctx: DistributionContext, appId: string, actor: string): Promise<SharingRecord> {
  await ctx.apps.requireApp(appId);
  return ctx.sharing.submitListing(appId, ctx.clock.now(), actor);
}

/** Why a link was refused. */
export type LinkRefusal = 'stale' | 'stopped' | 'forged';

const LINK_MESSAGES: Record<LinkRefusal, string> = {
  stale:
    'this installation link is no longer valid: the vendor generated a new link. Ask the vendor for the current link.',
  stopped: 'the vendor has stopped sharing this app: its installation links no longer install it.',
  forged: 'this is not a valid installation link (its signature does not match). Copy the whole link from the vendor.',
};

/** A link checked against the app's sharing record: the app, its record. */
export interface CheckedLink {
  app: AppRecord;
  record: SharingRecord;
}

/**
 * Checks an installation link (app, products, signature) against the app's sharing record.
 * @throws AppError install-link-invalid (`details.reason`: `stale` regenerated or re-enabled,
 *   `stopped`, `forged` also for an unknown app or one never shared), config-invalid
 */
export async function checkLink(
  ctx: DistributionContext,
  link: { appId: string; products: readonly string[]; signature: string },
): Promise<CheckedLink> {
  const keys = keysOf(ctx);
  const refuse = (reason: LinkRefusal): never => {
    throw new AppError(ErrorCode.INSTALL_LINK_INVALID, LINK_MESSAGES[reason], {
      details: { appId: link.appId, reason },
    });
  };
  const app = await ctx.apps.getApp(link.appId);
  if (!app) return refuse('forged');
  const record = await ctx.sharing.get(link.appId);
  if (record.status === 'off' || !record.salt) return refuse('forged');
  const match = matchInstallLink(keys.secret, grantOf(record), link);
  if (match === 'forged') return refuse('forged');
  if (record.status === 'stopped') return refuse('stopped');
  if (match === 'stale') return refuse('stale');
  return { app, record };
}
