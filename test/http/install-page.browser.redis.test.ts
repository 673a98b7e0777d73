/**
 * The installation screen in a real browser (seed 000: the user visits the link, sees the app
 * and the permissions it requests, chooses a site, installs): headless Chromium (Debian's
 * `chromium`, driven by puppeteer-core) against the HTTP API listening on a real port, on a real
 * Redis. It opens a link, reads the permissions, signs in with an API token, picks a site,
 * installs, and after a regeneration sees the old link refused.
 *
 * Needs /usr/bin/chromium (or MPU_CHROMIUM): CI installs it (.ci/run) and this test fails there
 * without it; elsewhere it is skipped, saying how to install it.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR } from '../../src/lib/clock.js';
import { addSite } from '../../src/app/distribution/sites.js';
import { enableSharing, regenerateLink } from '../../src/app/distribution/sharing.js';
import { parseDescriptor } from '../../src/versioning/index.js';
import { createRolloutHarness, ROLLOUT_T0, type RolloutHarness } from '../helpers/rollout-harness.js';
import { buildTestApp, VIEWER } from '../helpers/http.js';

const CHROMIUM = process.env.MPU_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI)
  throw new Error(`${CHROMIUM} is missing: CI installs Debian's chromium (.ci/run); the browser test must run there`);
if (!haveChromium)
  process.stderr.write(
    `install-page browser test skipped: no ${CHROMIUM} (apt-get install chromium, or set MPU_CHROMIUM)\n`,
  );

const F = 'ari:cloud:ecosystem::app/7c3d4e5f-6a7b-4c8d-8e9f-1a2b3c4d5e6f';
const manifest = JSON.stringify({
  app: { id: F, name: 'Team <Notes> & Co' },
  modules: { 'jira:issuePanel': [{ key: 'notes', title: 'Notes' }] },
  permissions: {
    scopes: ['read:jira-work', 'write:jira-work'],
    external: { fetch: { backend: ['https://api.notes.example.com'] }, images: ['https://cdn.notes.example.com'] },
  },
});

describe.skipIf(!haveChromium)('installation screen in headless Chromium (real Redis, real port)', () => {
  let h: RolloutHarness;
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  let profile: string;

  beforeAll(async () => {
    h = await createRolloutHarness({ workers: false });
    ({ app } = await buildTestApp(h.ctx));
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    await h.ctx.apps.addForgeApp({ ari: F, now: 0 });
    const parsed = parseDescriptor(manifest, { source: 'test', kind: 'forge' });
    const hash = await h.ctx.descriptors.saveDescriptor(F, parsed);
    h.versions.add({
      appId: F,
      kind: 'forge',
      version: '2.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: ROLLOUT_T0 - HOUR,
      descriptorHash: hash,
    });
    await addSite(h.ctx, { site: 'acme.atlassian.net', products: 'jira', admins: `jira:${VIEWER.name}` });
    await addSite(h.ctx, { site: 'other.atlassian.net', products: 'jira', admins: 'jira:someone-else' });
    profile = mkdtempSync(join(tmpdir(), 'mpu-chromium-'));
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await app?.close();
    await h?.close();
  });

  /** The link on the listening server (links are signed under the public URL). */
  const local = (link: string) => {
    const u = new URL(link);
    return `${base}${u.pathname}${u.search}`;
  };

  it('opens the link, shows the permissions, installs on a chosen site; after regenerate the old link is refused', async () => {
    const { link } = await enableSharing(h.ctx, F, 'jira', 'cli:vendor');
    const page = await browser.newPage();
    const first = await page.goto(local(link!));
    expect(first?.status()).toBe(200);
    // Escaped, not interpreted: the name holds < > &.
    expect(await page.$eval('#app-name', (e) => e.textContent)).toBe('Team <Notes> & Co');
    expect(await page.$eval('#app-version', (e) => e.textContent)).toBe('2.0.0');
    const scopes = await page.$eval('#scopes', (e) => e.textContent ?? '');
    expect(scopes).toContain('Read Jira work');
    expect(scopes).toContain('Create and change Jira work');
    const egress = await page.$eval('#egress', (e) => e.textContent ?? '');
    expect(egress).toContain('Its backend exchanges data with https://api.notes.example.com');
    expect(egress).toContain('Loads images from https://cdn.notes.example.com');

    await page.type('#token', VIEWER.token);
    await Promise.all([page.waitForNavigation(), page.click('#continue')]);
    // The picker lists the sites this admin administers, not the others.
    const options = await page.$$eval('#site option', (os) => os.map((o) => o.textContent));
    expect(options).toEqual(['acme.atlassian.net']);
    await page.select('#site', 'acme.atlassian.net');
    const [done] = await Promise.all([page.waitForNavigation(), page.click('#install')]);
    expect(done?.status()).toBe(201);
    expect(await page.$eval('h1', (e) => e.textContent)).toBe('Installed');
    const id = await page.$eval('#installation-id', (e) => e.textContent);
    expect(await page.$eval('#shared-secret', (e) => e.textContent)).toMatch(/^[\w-]{43}$/);
    expect(await h.ctx.installs.get(id!)).toMatchObject({ appId: F, site: 'acme.atlassian.net', version: '2.0.0' });

    await regenerateLink(h.ctx, F);
    const stale = await page.goto(local(link!));
    expect(stale?.status()).toBe(403);
    expect(await page.$eval('#problem', (e) => e.textContent)).toMatch(
      /no longer valid: the vendor generated a new link/,
    );
    await page.close();
  }, 60_000);
});
