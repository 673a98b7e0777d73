/**
 * The Connect-to-Forge bridge fields of a Connect descriptor (DESIGN.md "Connect to Forge
 * migration"; seeds 002, 004): `forgeAppLink`, shown to admins of installations whose current
 * version has it as "Get the Forge app"; and `forgeAppId`, which lets the Forge app's
 * installation fetch the clientKey of the Connect installation on the same site
 * (`GET /2.0/addon/{addon-key}/client-key`). Throws AppError.
 */
import { AppError, ErrorCode } from '../../lib/errors.js';
import { parseStoredDescriptor } from '../../store/descriptor-store.js';
import type { InstallationView } from '../../store/installation-store.js';
import type { RolloutContext } from '../context.js';

/** The descriptor document of the version `inst` runs, or null (a Forge installation, or no stored descriptor). */
async function currentConnectDescriptor(
  ctx: Pick<RolloutContext, 'versions' | 'descriptors'>,
  inst: Pick<InstallationView, 'appId' | 'version'>,
): Promise<Record<string, unknown> | null> {
  const rec = await ctx.versions.getVersion(inst.appId, inst.version);
  if (!rec || rec.kind !== 'connect' || !rec.descriptorHash) return null;
  const text = await ctx.descriptors.getDescriptorText(inst.appId, rec.descriptorHash);
  return text === null ? null : parseStoredDescriptor(inst.appId, rec.descriptorHash, text, 'connect').document;
}

/**
 * The "Get the Forge app" link of a Connect installation: `forgeAppLink` of the descriptor of
 * the version it runs now, so it appears once the installation has taken that version (seed 002:
 * "After updating the installations, workspace admins will see a new Get the Forge app link").
 * @returns null when that descriptor has none (or it is a Forge installation)
 */
export async function forgeAppLinkOf(
  ctx: Pick<RolloutContext, 'versions' | 'descriptors'>,
  inst: Pick<InstallationView, 'appId' | 'version'>,
): Promise<string | null> {
  const doc = await currentConnectDescriptor(ctx, inst);
  const link = doc?.forgeAppLink;
  return typeof link === 'string' && link !== '' ? link : null;
}

/**
 * The clientKey of the Connect installation of `addonKey` on the site of the Forge installation
 * `forgeInstallationId` (the caller, already authenticated), when that Connect installation's
 * current descriptor names the caller's Forge app in `forgeAppId` (seed 002 "Update Connect
 * descriptor with Forge app ID"; seed 004 "Data migration/cleanup after Forge app install").
 * @throws AppError installation-not-found (the caller; or no installation of `addonKey` on its
 *   site), forbidden (the caller is not a Forge installation; the descriptor names no Forge app
 *   or another one: `details.reason`), app-not-found / input-invalid (`addonKey` is not a
 *   registered Connect app)
 */
export async function connectClientKey(
  ctx: Pick<RolloutContext, 'versions' | 'descriptors' | 'installs' | 'apps'>,
  forgeInstallationId: string,
  addonKey: string,
): Promise<{ clientKey: string }> {
  const caller = await ctx.installs.get(forgeInstallationId);
  const callerApp = await ctx.apps.getApp(caller.appId);
  if (callerApp?.kind !== 'forge')
    throw new AppError(
      ErrorCode.FORBIDDEN,
      `installation ${caller.id} is not a Forge app's installation: only a Forge installation may fetch its Connect app's clientKey`,
      { details: { reason: 'not-forge', installation: caller.id } },
    );
  const connect = await ctx.apps.requireApp(addonKey);
  if (connect.kind !== 'connect')
    throw new AppError(ErrorCode.INPUT_INVALID, `${addonKey} is not a Connect app's key`, {
      details: { addonKey },
    });
  const id = await ctx.installs.onSite(addonKey, caller.site);
  if (!id)
    throw new AppError(
      ErrorCode.INSTALLATION_NOT_FOUND,
      `Connect app ${addonKey} is not installed on ${caller.site}, the site of installation ${caller.id}`,
      { details: { reason: 'connect-not-on-site', addonKey, site: caller.site } },
    );
  const inst = await ctx.installs.get(id);
  const named = (await currentConnectDescriptor(ctx, inst))?.forgeAppId;
  if (typeof named !== 'string' || named.toLowerCase() !== caller.appId.toLowerCase())
    throw new AppError(
      ErrorCode.FORBIDDEN,
      typeof named === 'string'
        ? `the descriptor of ${addonKey}@${inst.version} (installed on ${caller.site}) names Forge app ${named} in forgeAppId, not ${caller.appId}`
        : `the descriptor of ${addonKey}@${inst.version} (installed on ${caller.site}) has no forgeAppId: add the Forge app's ARI to it and update the installations`,
      {
        details: {
          reason: typeof named === 'string' ? 'other-forge-app' : 'no-forge-app-id',
          addonKey,
          version: inst.version,
        },
      },
    );
  return { clientKey: id };
}
