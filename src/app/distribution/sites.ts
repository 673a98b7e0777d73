/**
 * Sites and who administers them (DESIGN.md "Distribution rules"; seed 000: a link's products
 * must all run on the site, and the installer must be an admin of an Atlassian app there).
 * `mpu sites add SITE --products jira,confluence --admins jira:alice`, `mpu sites list`, and the
 * same over HTTP. Throws AppError.
 */
import { AppError, ErrorCode } from '../../lib/errors.js';
import type { SiteRecord } from '../../store/site-store.js';
import type { AppContext } from '../context.js';
import { parseProducts } from './sharing.js';

/** A site name: a host name such as `acme.atlassian.net` (letters, digits, `.`, `-`). */
const SITE = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;
/** An admin's name: the name of the credential they install with (an API token's name, the CLI's actor). */
const ADMIN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** The result of `addSite`: the site after the change, and whether it was new. */
export interface AddSiteResult {
  created: boolean;
  site: SiteRecord;
}

/**
 * Adds a site, or adds products and admins to a known one (never removes any). Each admin is
 * `product:name`, for a product the site runs (given now or before).
 * @throws AppError input-invalid (a bad site, product or admin, or an admin of a product the site does not run)
 */
export async function addSite(
  ctx: Pick<AppContext, 'sites' | 'clock'>,
  input: { site: string; products: readonly string[] | string; admins?: readonly string[] | string },
): Promise<AddSiteResult> {
  const site = input.site.trim().toLowerCase();
  if (!SITE.test(site))
    throw new AppError(ErrorCode.INPUT_INVALID, `not a site host name: '${input.site}' (e.g. acme.atlassian.net)`);
  const products = parseProducts(input.products);
  const rawAdmins = typeof input.admins === 'string' ? input.admins.split(',') : (input.admins ?? []);
  const known = (await ctx.sites.get(site))?.products ?? [];
  const problems: string[] = [];
  const admins: { product: string; name: string }[] = [];
  for (const raw of rawAdmins.map((a) => a.trim()).filter(Boolean)) {
    const at = raw.indexOf(':');
    const product = raw.slice(0, at).toLowerCase();
    const name = raw.slice(at + 1);
    if (at <= 0 || !ADMIN.test(name)) problems.push(`'${raw}' is not product:name (e.g. jira:alice)`);
    else if (!products.includes(product) && !known.includes(product))
      problems.push(`'${raw}': ${site} does not run ${product}`);
    else admins.push({ product, name });
  }
  if (problems.length)
    throw new AppError(ErrorCode.INPUT_INVALID, `--admins: ${problems.join('; ')}`, { details: { problems } });
  const created = (await ctx.sites.upsert([{ site, products, admins }], ctx.clock.now())) === 1;
  return { created, site: await ctx.sites.require(site) };
}

/** Every site, by name. */
export function listSites(ctx: Pick<AppContext, 'sites'>): Promise<SiteRecord[]> {
  return ctx.sites.list();
}
