/**
 * Distribution commands (DESIGN.md "Distribution rules", "Connect to Forge migration"):
 * `mpu sites add|list`, `mpu apps sharing enable|show|regenerate|stop`, `mpu apps listing submit`,
 * `mpu install LINK --site S --admin-of P`, `mpu install connect APP --site S` and
 * `mpu installations client-key`. Each opens the Redis context from the environment and closes
 * it; the state-changing ones leave an audit entry (actor `cli:<name>`).
 */
import type { Command } from 'commander';
import { openContext } from '../../main.js';
import { AppError, ErrorCode } from '../../lib/errors.js';
import { parseInstallLinkUrl } from '../../lib/install-link.js';
import type { Runtime } from '../../runtime.js';
import type { AuditStore } from '../../store/audit-store.js';
import type { SiteRecord } from '../../store/site-store.js';
import { addSite, listSites } from '../../app/distribution/sites.js';
import {
  enableSharing,
  regenerateLink,
  showSharing,
  stopSharing,
  submitListing,
  type SharingView,
} from '../../app/distribution/sharing.js';
import { installConnectApp, installFromLink, type InstallResult } from '../../app/distribution/install.js';
import { connectClientKey } from '../../app/distribution/connect-bridge.js';
import { audited, cliActor } from '../audit.js';
import { runAction } from '../run-action.js';

const out = (s: string): void => void process.stdout.write(s + '\n');
const iso = (t: number | null) => (t === null ? '-' : new Date(t).toISOString());

async function withContext<T>(fn: (ctx: Runtime, audit: AuditStore) => Promise<T>): Promise<T> {
  const { ctx, audit, close } = await openContext();
  try {
    return await fn(ctx, audit);
  } finally {
    await close();
  }
}

/** The CLI's installer name: `--actor NAME`, else the OS user (the `cli:` of the audit actor dropped). */
function installerName(): string {
  return cliActor().replace(/^cli:/, '');
}

function describeSite(s: SiteRecord): string {
  const admins = Object.entries(s.admins)
    .map(([p, names]) => `${p}: ${names.join(', ')}`)
    .join('; ');
  return `${s.site.padEnd(32)} ${s.products.join(',').padEnd(24)} admins ${admins || '-'}`;
}

function describeSharing(v: SharingView): string {
  const lines = [`${v.appId}: sharing ${v.status}${v.status === 'off' ? ' (never enabled)' : ''}`];
  if (v.status !== 'off') {
    lines.push(`  products:   ${v.products.join(', ')}`);
    lines.push(`  link:       ${v.link ?? '- (every link is refused)'}`);
    lines.push(
      `  generation: ${v.generation} (enabled ${iso(v.enabledAt)} by ${v.enabledBy ?? '-'}${v.regeneratedAt !== null ? `, regenerated ${iso(v.regeneratedAt)}` : ''}${v.stoppedAt !== null ? `, stopped ${iso(v.stoppedAt)} by ${v.stoppedBy ?? '-'}` : ''})`,
    );
  }
  if (v.listingSubmittedAt !== null)
    lines.push(`  listing:    submitted ${iso(v.listingSubmittedAt)} by ${v.listingSubmittedBy ?? '-'}`);
  for (const r of v.refusals) lines.push(`  ! ${r}`);
  return lines.join('\n');
}

function describeInstall(r: InstallResult): string {
  const lines = [r.message];
  lines.push(
    `  installation: ${r.id} (${r.installation.appId}@${r.installation.version} on ${r.installation.site} [${r.installation.products.join(', ')}])`,
  );
  if (r.sharedSecret !== undefined)
    lines.push(
      `  shared secret: ${r.sharedSecret}`,
      '  (shown once: keep it; it signs the calls made as this installation)',
    );
  return lines.join('\n');
}

/** `mpu apps sharing …` and `mpu apps listing submit` under `apps`. */
export function registerSharingCommands(apps: Command): void {
  const sharing = apps
    .command('sharing')
    .description('share a Forge app by installation link: enable, show, regenerate, stop');
  sharing
    .command('enable')
    .argument('<app>', 'Forge app ARI')
    .requiredOption(
      '--products <list>',
      'products the link installs into, comma-separated (a site must run all of them)',
    )
    .option('--json', 'print the sharing state as JSON (the link as `link`)')
    .description(
      'enable sharing and print the installation link (<MPU_PUBLIC_URL>/install/<app>?signature=…&product=…); refused for a licensed app, one submitted for listing, or one with no production version',
    )
    .action(
      runAction(async (appId: string, opts: { products: string; json?: boolean }) => {
        const v = await withContext((ctx, audit) =>
          audited({ audit, clock: ctx.clock }, 'sharing.enable', { app: appId }, () =>
            enableSharing(ctx, appId, opts.products, cliActor()),
          ),
        );
        out(
          opts.json
            ? JSON.stringify(v)
            : `${v.changed ? '' : '(already shared so) '}installation link: ${v.link}\n${describeSharing(v)}`,
        );
      }),
    );
  sharing
    .command('show')
    .argument('<app>', 'app id')
    .option('--json', 'print JSON')
    .description('the sharing state and current installation link')
    .action(
      runAction(async (appId: string, opts: { json?: boolean }) => {
        const v = await withContext((ctx) => showSharing(ctx, appId));
        out(opts.json ? JSON.stringify(v) : describeSharing(v));
      }),
    );
  sharing
    .command('regenerate')
    .argument('<app>', 'Forge app ARI')
    .option('--json', 'print JSON')
    .description(
      'generate a new installation link: the previous link stops working at once (this cannot be undone); existing installations keep working and updating',
    )
    .action(
      runAction(async (appId: string, opts: { json?: boolean }) => {
        const v = await withContext((ctx, audit) =>
          audited({ audit, clock: ctx.clock }, 'sharing.regenerate', { app: appId }, () => regenerateLink(ctx, appId)),
        );
        out(
          opts.json ? JSON.stringify(v) : `new installation link: ${v.link}\n  (the previous link no longer installs)`,
        );
      }),
    );
  sharing
    .command('stop')
    .argument('<app>', 'Forge app ARI')
    .option('--json', 'print JSON')
    .description('stop sharing: every installation link is refused; existing installations keep working and updating')
    .action(
      runAction(async (appId: string, opts: { json?: boolean }) => {
        const v = await withContext((ctx, audit) =>
          audited({ audit, clock: ctx.clock }, 'sharing.stop', { app: appId }, () =>
            stopSharing(ctx, appId, cliActor()),
          ),
        );
        out(
          opts.json
            ? JSON.stringify(v)
            : `${v.changed ? 'stopped sharing' : 'sharing was already stopped'}: every installation link of ${appId} is refused; existing installations keep working and updating`,
        );
      }),
    );
  apps
    .command('listing')
    .description('Marketplace listing')
    .command('submit')
    .argument('<app>', 'app id')
    .option('--json', 'print JSON')
    .description('mark the app as submitted for a Marketplace listing: it can no longer be shared by installation link')
    .action(
      runAction(async (appId: string, opts: { json?: boolean }) => {
        const r = await withContext((ctx, audit) =>
          audited({ audit, clock: ctx.clock }, 'listing.submit', { app: appId }, () =>
            submitListing(ctx, appId, cliActor()),
          ),
        );
        out(
          opts.json
            ? JSON.stringify(r)
            : `${appId}: submitted for listing at ${iso(r.listingSubmittedAt)}; its installation links are refused from now on`,
        );
      }),
    );
}

/** `mpu sites`, `mpu install` (on the program). */
export function registerDistributionCommands(program: Command): void {
  const sites = program.command('sites').description('sites: the products each runs and its admins per product');
  sites
    .command('add')
    .argument('<site>', 'site host name, e.g. acme.atlassian.net')
    .requiredOption('--products <list>', 'products the site runs, comma-separated (added to those it had)')
    .option(
      '--admins <list>',
      'admins per product, comma-separated product:name (the name an admin installs with: an API token name, or the CLI actor)',
    )
    .option('--json', 'print the site as JSON')
    .description('add a site, or add products and admins to one (nothing is ever removed)')
    .action(
      runAction(async (site: string, opts: { products: string; admins?: string; json?: boolean }) => {
        const r = await withContext((ctx, audit) =>
          audited({ audit, clock: ctx.clock }, 'site.add', { site }, () =>
            addSite(ctx, { site, products: opts.products, admins: opts.admins }),
          ),
        );
        out(opts.json ? JSON.stringify(r) : `${r.created ? 'added' : 'updated'} ${describeSite(r.site)}`);
      }),
    );
  sites
    .command('list')
    .option('--json', 'print JSON')
    .description('every site with its products and admins')
    .action(
      runAction(async (opts: { json?: boolean }) => {
        const list = await withContext((ctx) => listSites(ctx));
        if (opts.json) return out(JSON.stringify({ sites: list }));
        if (list.length === 0) return out("no sites (add one: 'mpu sites add SITE --products jira')");
        for (const s of list) out(describeSite(s));
      }),
    );

  program
    .command('install')
    .argument('<link>', "an installation link, or 'connect' followed by a Connect app's key")
    .argument('[app]', "with 'connect': the Connect app's key")
    .option('--site <site>', 'the site to install on (mpu sites add)')
    .option('--admin-of <product>', 'a link install: the product of the link you are an admin of on the site')
    .option('--json', 'print the result as JSON (the installation as `id`; `sharedSecret` only when it is new)')
    .summary('install a Forge app by its link, or a Connect app (mpu install connect APP --site S)')
    .description(
      'mpu install LINK --site SITE --admin-of PRODUCT: install a shared Forge app by its installation link, as an admin of PRODUCT on SITE ' +
        "(you are the CLI's actor: --actor NAME, else the OS user; the site must list you as an admin of PRODUCT and run every product of the link).\n" +
        "mpu install connect APP --site SITE: install a Connect app as the site's product does (refused while its descriptor has blockInstall: true).\n" +
        'Both install the latest published version and print the shared secret once; installing again on the same site answers the existing installation.',
    )
    .action(
      runAction(
        async (target: string, app: string | undefined, opts: { site?: string; adminOf?: string; json?: boolean }) => {
          if (!opts.site) throw new AppError(ErrorCode.INPUT_INVALID, '--site SITE is required');
          const site = opts.site;
          const r = await withContext((ctx, audit) => {
            if (target === 'connect') {
              if (!app)
                throw new AppError(
                  ErrorCode.INPUT_INVALID,
                  "name the Connect app: 'mpu install connect APP --site SITE'",
                );
              return audited({ audit, clock: ctx.clock }, 'installation.install', { app, site }, async (note) => {
                const res = await installConnectApp(ctx, { appId: app, site });
                note.target = { app, site, installation: res.id, version: res.installation.version };
                return res;
              });
            }
            const link = parseInstallLinkUrl(target);
            if (!link)
              throw new AppError(
                ErrorCode.INPUT_INVALID,
                `not an installation link: '${target}' (expected …/install/<app>?signature=…&product=…)`,
              );
            if (app !== undefined) throw new AppError(ErrorCode.INPUT_INVALID, `unexpected argument '${app}'`);
            if (!opts.adminOf)
              throw new AppError(
                ErrorCode.INPUT_INVALID,
                '--admin-of PRODUCT is required: the product you administer on the site',
              );
            const adminOf = opts.adminOf;
            return audited(
              { audit, clock: ctx.clock },
              'installation.install',
              { app: link.appId, site },
              async (note) => {
                const res = await installFromLink(ctx, { link, site, adminOf, installer: installerName() });
                note.target = { app: link.appId, site, installation: res.id, version: res.installation.version };
                return res;
              },
            );
          });
          out(opts.json ? JSON.stringify(r) : describeInstall(r));
        },
      ),
    );
}

/** `mpu installations client-key` under `installations`. */
export function registerClientKeyCommand(installations: Command): void {
  installations
    .command('client-key')
    .requiredOption('--forge-installation <id>', 'the Forge installation asking (its id)')
    .requiredOption('--addon <key>', "the Connect app's key")
    .option('--json', 'print {"clientKey": …}')
    .description(
      "the clientKey of the Connect app's installation on the Forge installation's site, when that installation's descriptor names the Forge app in forgeAppId (as GET /2.0/addon/{addon-key}/client-key answers)",
    )
    .action(
      runAction(async (opts: { forgeInstallation: string; addon: string; json?: boolean }) => {
        const r = await withContext((ctx) => connectClientKey(ctx, opts.forgeInstallation, opts.addon));
        out(opts.json ? JSON.stringify(r) : r.clientKey);
      }),
    );
}
