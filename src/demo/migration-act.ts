/**
 * The demo's migration act (DESIGN.md "Distribution rules", "Connect to Forge migration"; seeds
 * 000, 002, 004), run on the demo daemon beside the main rollouts: a Connect app installed on a
 * few sites publishes `forgeAppLink` and `forgeAppId`; its installations show "Get the Forge app"
 * once their daily update check has taken that version; the Forge app, deployed and shared by
 * link, is installed by each site's admin from the link; each Forge installation fetches its
 * Connect clientKey over HTTP with a Connect JWT signed by its shared secret; finally
 * `blockInstall` refuses a new Connect installation with the seed's message.
 */
import { createQueryStringHash, encodeSymmetric, fromMethodAndUrl } from 'atlassian-jwt';
import { request } from 'undici';
import { recordVersion } from '../app/detection/record-version.js';
import { registerForgeApp } from '../app/detection/register-app.js';
import { addSite } from '../app/distribution/sites.js';
import { enableSharing } from '../app/distribution/sharing.js';
import { installConnectApp, installFromLink, type InstallResult } from '../app/distribution/install.js';
import { showInstallation } from '../app/rollout/installations.js';
import { sendDeployEvent } from '../http/deploy-client.js';
import { systemClock } from '../lib/clock.js';
import { isAppError } from '../lib/errors.js';
import { parseInstallLinkUrl } from '../lib/install-link.js';
import type { Runtime } from '../runtime.js';
import { parseDescriptor } from '../versioning/index.js';

/** What the act did; `held` when every step did what the seeds say. */
export interface MigrationActReport {
  connectAppId: string;
  forgeAppId: string;
  /** The Forge app's installation link. */
  link: string;
  sites: number;
  /** Connect installations that showed no "Get the Forge app" before their update and show it after. */
  linkShownAfterUpdate: number;
  /** Sites that installed the Forge app from the link. */
  forgeInstalled: number;
  /** Forge installations whose client-key call answered their site's Connect clientKey. */
  clientKeysMatched: number;
  /** The refusal of a new Connect installation once the descriptor blocks installs. */
  blockedMessage: string | null;
  held: boolean;
}

const CONNECT = 'demo-migration.legacy-notes';
const FORGE = 'ari:cloud:ecosystem::app/3e9b1c2d-7a4f-4d6e-9b8a-5c1d2e3f4a5b';
const SITES = 5;

const descriptor = (over: Record<string, unknown>) =>
  JSON.stringify({
    key: CONNECT,
    baseUrl: 'https://legacy-notes.example.com',
    scopes: ['READ'],
    modules: { jiraIssueGlances: [{ key: 'notes', name: { value: 'Notes' } }] },
    ...over,
  });
const manifest = `app:
  id: ${FORGE}
  name: Legacy Notes (Forge)
modules:
  jira:issuePanel:
    - key: notes
      title: Notes
permissions:
  scopes:
    - read:jira-work
  external:
    fetch:
      backend:
        - https://api.legacy-notes.example.com
`;

/** Options of `runMigrationAct`. */
export interface MigrationActOptions {
  /** The demo daemon's HTTP API (`http://127.0.0.1:<port>`). */
  url: string;
  /** Its deploy-event secret. */
  webhookSecret: string;
  /** Progress lines. */
  say: (line: string) => void;
  /** Gives up waiting for a step after this many real ms. @defaultValue 120 s */
  timeoutMs?: number;
}

/** Waits (real time, 200 ms steps) until `done()` holds. @returns false on timeout */
async function until(done: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await done()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return done();
}

/** Stores a Connect descriptor change as the poll's versioning step does (its plan is queued for the daemon). */
async function publishConnect(ctx: Runtime, text: string): Promise<string> {
  const parsed = parseDescriptor(text, { source: `demo:${CONNECT}`, kind: 'connect' });
  await ctx.descriptors.saveDescriptor(CONNECT, parsed);
  const latest = await ctx.versions.latestVersion(CONNECT);
  const r = await recordVersion(ctx, {
    v: 1,
    appId: CONNECT,
    source: 'poll',
    descriptorHash: parsed.hash,
    baseVersion: latest?.version ?? null,
    detectedAt: ctx.clock.now(),
  });
  return r.status === 'created' ? r.version : (latest?.version ?? '');
}

/** Runs the act on the demo daemon's context. @throws on a step that errs unexpectedly */
export async function runMigrationAct(ctx: Runtime, opts: MigrationActOptions): Promise<MigrationActReport> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const say = (s: string) => opts.say(`migration: ${s}`);
  // The demo's daemon listens on a port chosen at start: its links point there.
  if (ctx.installLinks) ctx.installLinks = { ...ctx.installLinks, baseUrl: opts.url };
  // Registered without a poll schedule: the act publishes the descriptor's versions itself.
  await ctx.apps.addConnectApp({
    id: CONNECT,
    descriptorUrl: 'https://legacy-notes.example.com/atlassian-connect.json',
    now: ctx.clock.now(),
    product: 'jira',
  });
  await registerForgeApp(ctx, FORGE);
  await publishConnect(ctx, descriptor({}));
  const sites = Array.from({ length: SITES }, (_, k) => `site-${k + 1}.demo.atlassian.net`);
  const connectIds = new Map<string, string>();
  for (const [k, site] of sites.entries()) {
    await addSite(ctx, { site, products: ['jira'], admins: [`jira:admin-${k + 1}`] });
    connectIds.set(site, (await installConnectApp(ctx, { appId: CONNECT, site })).id);
  }
  say(`Connect app ${CONNECT} installed on ${SITES} sites`);

  // The Forge app: a production deploy, then shared by link.
  await sendDeployEvent(
    opts.url,
    opts.webhookSecret,
    {
      eventId: 'migration-forge-0',
      appId: FORGE,
      environment: 'production',
      deploymentId: 'migration-forge-deploy-0',
      manifest,
      deployedAt: new Date(ctx.clock.now()).toISOString(),
    },
    systemClock.now(),
  );
  await until(async () => (await ctx.versions.latestVersion(FORGE)) !== null, timeoutMs);
  const shared = await enableSharing(ctx, FORGE, ['jira'], 'demo');
  const link = shared.link!;
  say(`Forge app shared by link ${link}`);

  // The Connect app publishes both bridge fields; admins see the link after their update.
  const bridged = await publishConnect(ctx, descriptor({ forgeAppLink: link, forgeAppId: FORGE }));
  let before = 0;
  for (const id of connectIds.values()) if ((await showInstallation(ctx, id)).forgeAppLink === null) before++;
  const updated = await until(async () => {
    const d = await ctx.installs.distribution(CONNECT);
    return d[bridged] === SITES;
  }, timeoutMs);
  let linkShownAfterUpdate = 0;
  for (const id of connectIds.values())
    if ((await showInstallation(ctx, id)).forgeAppLink === link) linkShownAfterUpdate++;
  linkShownAfterUpdate = Math.min(before, linkShownAfterUpdate);
  say(
    `${CONNECT}@${bridged} (forgeAppLink, forgeAppId) reached ${updated ? 'every' : 'not every'} installation at its daily update check; "Get the Forge app" shown on ${linkShownAfterUpdate}/${SITES} (none before)`,
  );

  // Each site's admin installs the Forge app from the link; the installation fetches its Connect clientKey.
  const parsed = parseInstallLinkUrl(link)!;
  const installed: [string, InstallResult][] = [];
  for (const [k, site] of sites.entries())
    installed.push([
      site,
      await installFromLink(ctx, { link: parsed, site, adminOf: 'jira', installer: `admin-${k + 1}` }),
    ]);
  let clientKeysMatched = 0;
  for (const [site, r] of installed) {
    const path = `/2.0/addon/${CONNECT}/client-key`;
    const now = Math.floor(systemClock.now() / 1000);
    const jwt = encodeSymmetric(
      { iss: r.id, iat: now, exp: now + 180, qsh: createQueryStringHash(fromMethodAndUrl('GET', path)) },
      r.sharedSecret!,
    );
    const res = await request(`${opts.url}${path}`, { headers: { authorization: `JWT ${jwt}` } });
    const body = (await res.body.json()) as { clientKey?: string };
    if (res.statusCode === 200 && body.clientKey === connectIds.get(site)) clientKeysMatched++;
  }
  say(
    `${installed.length} sites installed the Forge app by link; ${clientKeysMatched} fetched their Connect clientKey`,
  );

  // The vendor blocks new Connect installations.
  await publishConnect(ctx, descriptor({ forgeAppLink: link, forgeAppId: FORGE, blockInstall: true }));
  const newcomer = 'site-new.demo.atlassian.net';
  await addSite(ctx, { site: newcomer, products: ['jira'] });
  let blockedMessage: string | null = null;
  try {
    await installConnectApp(ctx, { appId: CONNECT, site: newcomer });
  } catch (err) {
    if (!isAppError(err, 'install-blocked')) throw err;
    blockedMessage = err.message;
  }
  say(`a new Connect install on ${newcomer}: ${blockedMessage ?? 'NOT refused'}`);
  return {
    connectAppId: CONNECT,
    forgeAppId: FORGE,
    link,
    sites: SITES,
    linkShownAfterUpdate,
    forgeInstalled: installed.filter(([, r]) => r.created).length,
    clientKeysMatched,
    blockedMessage,
    held:
      linkShownAfterUpdate === SITES &&
      clientKeysMatched === SITES &&
      blockedMessage === `The app vendor has blocked addon ${CONNECT} from being installed.`,
  };
}
