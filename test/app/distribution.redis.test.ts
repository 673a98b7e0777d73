/**
 * Distribution on a real Redis (DESIGN.md "Distribution rules", "Connect to Forge migration";
 * seeds 000, 002, 004), through the use cases and the HTTP API (inject): sharing a Forge app by
 * installation link (enable, regenerate, stop, and the refusals for a licensed, listed or
 * undeployed app), installing by link (site admins, multi-product sites, idempotent, audited),
 * installations by link keep receiving versions while links change, blockInstall's exact
 * refusal, forgeAppLink once an installation runs the version that has it, and the Connect
 * clientKey fetched by a Forge installation with a Connect JWT.
 */
import type { FastifyInstance } from 'fastify';
import { createQueryStringHash, encodeSymmetric, fromMethodAndUrl } from 'atlassian-jwt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOUR, MINUTE } from '../../src/lib/clock.js';
import { exitCodeFor, type AppError } from '../../src/lib/errors.js';
import { parseInstallLinkUrl } from '../../src/lib/install-link.js';
import { addSite } from '../../src/app/distribution/sites.js';
import {
  enableSharing,
  regenerateLink,
  showSharing,
  stopSharing,
  submitListing,
  type DistributionContext,
} from '../../src/app/distribution/sharing.js';
import { installConnectApp, installFromLink, type InstallResult } from '../../src/app/distribution/install.js';
import { connectClientKey } from '../../src/app/distribution/connect-bridge.js';
import { showInstallation } from '../../src/app/rollout/installations.js';
import { parseDescriptor } from '../../src/versioning/index.js';
import type { AuditStore } from '../../src/store/audit-store.js';
import { createRolloutHarness, ROLLOUT_T0, type RolloutHarness } from '../helpers/rollout-harness.js';
import { asOperator, buildTestApp, PUBLIC_URL } from '../helpers/http.js';

const F = 'ari:cloud:ecosystem::app/5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const F2 = 'ari:cloud:ecosystem::app/6b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e';
const C = 'com.example.legacy-notes';

const manifest = (scopes: string[], over: Record<string, unknown> = {}) =>
  JSON.stringify({
    app: { id: F, name: 'Legacy Notes for Forge', ...over },
    modules: { 'jira:issuePanel': [{ key: 'notes', title: 'Notes' }] },
    permissions: { scopes, external: { fetch: { backend: ['https://api.notes.example.com'] } } },
  });
const descriptor = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    key: C,
    baseUrl: 'https://notes.example.com',
    scopes: ['READ'],
    modules: { jiraIssueGlances: [{ key: 'g', name: { value: 'Notes' } }] },
    ...over,
  });

describe('distribution (real Redis)', () => {
  let h: RolloutHarness;
  let ctx: DistributionContext;
  let app: FastifyInstance;
  let audit: AuditStore;

  /** Stores `text` as `version` of `appId`, published at `at`. */
  async function publish(
    appId: string,
    kind: 'connect' | 'forge',
    version: string,
    text: string,
    at: number,
    approval: 'automatic' | 'manual' = 'automatic',
  ): Promise<void> {
    const parsed = parseDescriptor(text, { source: `${appId}@${version}`, kind });
    const hash = await h.ctx.descriptors.saveDescriptor(appId, parsed);
    h.versions.add({ appId, kind, version, bump: 'minor', approval, detectedAt: at, descriptorHash: hash });
  }

  const link = (url: string) => parseInstallLinkUrl(url)!;
  const fail = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error('expected a refusal');
      },
      (e: unknown) => e as AppError,
    );

  beforeEach(async () => {
    h = await createRolloutHarness({ workers: false });
    ctx = h.ctx;
    ({ app, audit } = await buildTestApp(h.ctx));
    await h.ctx.apps.addForgeApp({ ari: F, now: 0 });
    await h.ctx.apps.addConnectApp({
      id: C,
      descriptorUrl: 'https://notes.example.com/atlassian-connect.json',
      now: 0,
    });
    await publish(F, 'forge', '2.0.0', manifest(['read:jira-work']), ROLLOUT_T0 - HOUR);
    await addSite(ctx, {
      site: 'acme.atlassian.net',
      products: 'jira,confluence',
      admins: 'jira:alice,confluence:bob',
    });
    await addSite(ctx, { site: 'jira-only.atlassian.net', products: 'jira', admins: 'jira:alice' });
  });
  afterEach(async () => {
    await app.close();
    await h.close();
  });

  describe('sharing by installation link', () => {
    it('enable prints a signed link under the public URL naming the products; again with the same products, the same link', async () => {
      const v = await enableSharing(ctx, F, 'confluence,jira', 'cli:vendor');
      expect(v).toMatchObject({ status: 'enabled', products: ['confluence', 'jira'], changed: true, refusals: [] });
      expect(v.link).toMatch(
        new RegExp(
          `^${PUBLIC_URL}/install/ari%3Acloud%3Aecosystem%3A%3Aapp%2F5a1b2c3d[^?]+\\?signature=[\\w-]{43}&product=confluence,jira$`,
        ),
      );
      const again = await enableSharing(ctx, F, ['jira', 'confluence'], 'cli:vendor');
      expect(again).toMatchObject({ link: v.link, changed: false });
      expect((await showSharing(ctx, F)).link).toBe(v.link);
    });

    it("refuses, in the seed's words, a licensed manifest, an app submitted for listing, an app with no production version, a Connect app", async () => {
      await h.ctx.apps.addForgeApp({ ari: F2, now: 0 });
      const none = await fail(enableSharing(ctx, F2, 'jira', 'v'));
      expect(none).toMatchObject({
        code: 'sharing-refused',
        message: expect.stringMatching(/no production version yet/),
      });
      await publish(
        F2,
        'forge',
        '2.0.0',
        manifest(['read:jira-work'], { id: F2, licensing: { enabled: true } }),
        ROLLOUT_T0 - HOUR,
      );
      const licensed = await fail(enableSharing(ctx, F2, 'jira', 'v'));
      expect(licensed.message).toMatch(
        /has a license \(app\.licensing\.enabled\): a licensed app can't be shared by installation link; copy the app's code, create a new, unlicensed version/,
      );
      expect((await fail(enableSharing(ctx, C, 'jira', 'v'))).message).toMatch(
        /Connect app: sharing by installation link is for Forge apps/,
      );

      // Listing: refused to enable, and a link enabled before stops installing.
      const shared = await enableSharing(ctx, F, 'jira', 'v');
      await submitListing(ctx, F, 'cli:vendor');
      const listed = await fail(enableSharing(ctx, F, 'jira,confluence', 'v'));
      expect(listed).toMatchObject({
        code: 'sharing-refused',
        message: expect.stringMatching(/submitted for listing on the Marketplace/),
      });
      const install = await fail(
        installFromLink(ctx, {
          link: link(shared.link!),
          site: 'acme.atlassian.net',
          adminOf: 'jira',
          installer: 'alice',
        }),
      );
      expect(install).toMatchObject({ code: 'install-refused', details: { reason: 'not-shareable' } });
      const page = await app.inject({ url: new URL(shared.link!).pathname + new URL(shared.link!).search });
      expect(page.statusCode).toBe(403);
      expect(page.body).toContain('submitted for listing');
    });

    it('installs by link as an admin of one of its products on a site running all of them: once, with a shared secret shown once', async () => {
      const v = await enableSharing(ctx, F, 'jira,confluence', 'v');
      const first = await installFromLink(ctx, {
        link: link(v.link!),
        site: 'acme.atlassian.net',
        adminOf: 'confluence',
        installer: 'bob',
      });
      expect(first).toMatchObject({
        created: true,
        installation: { appId: F, site: 'acme.atlassian.net', products: ['confluence', 'jira'], version: '2.0.0' },
      });
      expect(first.sharedSecret).toMatch(/^[\w-]{43}$/);
      expect(await ctx.sharing.secretOf(F, first.id)).toBe(first.sharedSecret);
      const second = await installFromLink(ctx, {
        link: link(v.link!),
        site: 'acme.atlassian.net',
        adminOf: 'jira',
        installer: 'alice',
      });
      expect(second).toMatchObject({
        created: false,
        id: first.id,
        message: expect.stringMatching(/already installed on acme\.atlassian\.net/),
      });
      expect(second.sharedSecret).toBeUndefined();
      expect(await ctx.installs.count(F)).toBe(1);

      const refusals = await Promise.all([
        fail(
          installFromLink(ctx, { link: link(v.link!), site: 'acme.atlassian.net', adminOf: 'jira', installer: 'bob' }),
        ),
        fail(
          installFromLink(ctx, {
            link: link(v.link!),
            site: 'jira-only.atlassian.net',
            adminOf: 'jira',
            installer: 'alice',
          }),
        ),
        fail(
          installFromLink(ctx, {
            link: link(v.link!),
            site: 'nowhere.atlassian.net',
            adminOf: 'jira',
            installer: 'alice',
          }),
        ),
        fail(
          installFromLink(ctx, {
            link: link(v.link!),
            site: 'acme.atlassian.net',
            adminOf: 'bitbucket',
            installer: 'alice',
          }),
        ),
      ]);
      expect(refusals.map((e) => [e.code, e.details?.reason])).toEqual([
        ['install-refused', 'not-admin'],
        ['install-refused', 'products-missing'],
        ['site-not-found', undefined],
        ['input-invalid', undefined],
      ]);
      expect(refusals[1]!.message).toMatch(/jira-only\.atlassian\.net does not run confluence/);
      expect(exitCodeFor(refusals[0])).toBe(77);
    });

    it('regenerate: the previous link is refused at once as stale; stop refuses every link; enabling again gives a new link', async () => {
      const first = await enableSharing(ctx, F, 'jira', 'v');
      const second = await regenerateLink(ctx, F);
      expect(second.link).not.toBe(first.link);
      const stale = await fail(
        installFromLink(ctx, {
          link: link(first.link!),
          site: 'jira-only.atlassian.net',
          adminOf: 'jira',
          installer: 'alice',
        }),
      );
      expect(stale).toMatchObject({
        code: 'install-link-invalid',
        details: { reason: 'stale' },
        message: expect.stringMatching(/the vendor generated a new link/),
      });
      const forged = { ...link(second.link!), signature: 'A'.repeat(43) };
      expect(
        (
          await fail(
            installFromLink(ctx, {
              link: forged,
              site: 'jira-only.atlassian.net',
              adminOf: 'jira',
              installer: 'alice',
            }),
          )
        ).details,
      ).toMatchObject({ reason: 'forged' });
      const otherProducts = { ...link(second.link!), products: ['jira', 'confluence'] };
      expect(
        (
          await fail(
            installFromLink(ctx, {
              link: otherProducts,
              site: 'acme.atlassian.net',
              adminOf: 'jira',
              installer: 'alice',
            }),
          )
        ).details,
      ).toMatchObject({ reason: 'forged' });
      await installFromLink(ctx, {
        link: link(second.link!),
        site: 'jira-only.atlassian.net',
        adminOf: 'jira',
        installer: 'alice',
      });

      const stopped = await stopSharing(ctx, F, 'cli:vendor');
      expect(stopped).toMatchObject({ status: 'stopped', link: null });
      for (const l of [first.link!, second.link!])
        expect(
          (
            await fail(
              installFromLink(ctx, { link: link(l), site: 'acme.atlassian.net', adminOf: 'jira', installer: 'alice' }),
            )
          ).details,
        ).toMatchObject({ reason: 'stopped' });
      expect((await fail(regenerateLink(ctx, F))).code).toBe('sharing-refused');
      const again = await enableSharing(ctx, F, 'jira', 'v');
      expect(again.link).not.toBe(second.link);
      expect(
        (
          await fail(
            installFromLink(ctx, {
              link: link(second.link!),
              site: 'acme.atlassian.net',
              adminOf: 'jira',
              installer: 'alice',
            }),
          )
        ).details,
      ).toMatchObject({ reason: 'stale' });
      // The installation made before all this is still there, on its version.
      expect(await ctx.installs.distribution(F)).toEqual({ '2.0.0': 1 });
    });

    it('over HTTP: operators enable, regenerate and stop (audited with the token name); viewers may not', async () => {
      const viewer = await app.inject({
        method: 'POST',
        url: `/v1/apps/${encodeURIComponent(F)}/sharing`,
        payload: { products: ['jira'] },
        headers: { authorization: 'Bearer viewer-token-0123456789abcdef' },
      });
      expect(viewer.statusCode).toBe(403);
      const on = await app.inject({
        method: 'POST',
        url: `/v1/apps/${encodeURIComponent(F)}/sharing`,
        payload: { products: ['jira'] },
        headers: asOperator,
      });
      expect(on.statusCode).toBe(200);
      expect(on.json().link).toMatch(/\/install\//);
      const re = await app.inject({
        method: 'POST',
        url: `/v1/apps/${encodeURIComponent(F)}/sharing/regenerate`,
        headers: asOperator,
      });
      expect(re.json().link).not.toBe(on.json().link);
      const stop = await app.inject({
        method: 'POST',
        url: `/v1/apps/${encodeURIComponent(F)}/sharing/stop`,
        headers: asOperator,
      });
      expect(stop.json()).toMatchObject({ status: 'stopped', link: null });
      const entries = await audit.list({ appId: F, limit: 10 });
      expect(entries.map((e) => [e.action, e.actor, e.outcome])).toEqual([
        ['sharing.stop', 'alice', 'ok'],
        ['sharing.regenerate', 'alice', 'ok'],
        ['sharing.enable', 'alice', 'ok'],
        ['sharing.enable', 'grafana', 'forbidden'],
      ]);
    });
  });

  it('installations made by link keep receiving versions while the link is regenerated and sharing stopped mid-rollout; a new major with new scopes waits for approval', async () => {
    await app.close();
    await h.close();
    h = await createRolloutHarness({ workers: true });
    ctx = h.ctx;
    ({ app, audit } = await buildTestApp(h.ctx));
    await h.ctx.apps.addForgeApp({ ari: F, now: 0 });
    await publish(F, 'forge', '2.0.0', manifest(['read:jira-work']), ROLLOUT_T0 - HOUR);
    const sites = Array.from({ length: 6 }, (_, k) => `site-${k}.atlassian.net`);
    for (const site of sites) await addSite(ctx, { site, products: 'jira', admins: 'jira:alice' });
    const shared = await enableSharing(ctx, F, 'jira', 'v');
    const installed: InstallResult[] = [];
    for (const site of sites)
      installed.push(
        await installFromLink(ctx, { link: link(shared.link!), site, adminOf: 'jira', installer: 'alice' }),
      );

    await publish(F, 'forge', '2.1.0', manifest(['read:jira-work']), h.clock.now());
    await h.plan(F, '2.1.0');
    // In flight: planned, none upgraded yet (Forge upgrades land minutes after the deploy).
    expect(await h.ctx.rollouts.status(F, '2.1.0')).toBe('scheduled');
    expect(await ctx.installs.distribution(F)).toEqual({ '2.0.0': 6 });
    // Mid-rollout: the link changes twice, then sharing stops.
    await regenerateLink(ctx, F);
    await regenerateLink(ctx, F);
    await stopSharing(ctx, F, 'v');
    await h.runFor(HOUR, 5 * MINUTE);
    expect(await ctx.installs.distribution(F)).toEqual({ '2.1.0': 6 });

    await publish(F, 'forge', '3.0.0', manifest(['read:jira-work', 'write:jira-work']), h.clock.now(), 'manual');
    await h.plan(F, '3.0.0');
    // "Update available" shows at each installation's next daily check.
    await h.runFor(25 * HOUR, HOUR);
    for (const r of installed) {
      const v = await ctx.installs.get(r.id);
      expect(v).toMatchObject({ version: '2.1.0', updateAvailable: '3.0.0' });
    }
  });

  describe('Connect to Forge bridge', () => {
    it("blockInstall: a new Connect installation is refused with exactly the seed's message (403, exit 77); existing ones untouched; false allows it again", async () => {
      await publish(C, 'connect', '1.0.0', descriptor(), ROLLOUT_T0 - 2 * HOUR);
      const first = await installConnectApp(ctx, { appId: C, site: 'acme.atlassian.net' });
      expect(first).toMatchObject({ created: true, installation: { products: ['jira'], version: '1.0.0' } });
      await publish(C, 'connect', '1.0.1', descriptor({ blockInstall: true }), ROLLOUT_T0 - HOUR);
      const refused = await fail(installConnectApp(ctx, { appId: C, site: 'jira-only.atlassian.net' }));
      expect(refused.code).toBe('install-blocked');
      expect(refused.message).toBe(`The app vendor has blocked addon ${C} from being installed.`);
      expect(exitCodeFor(refused)).toBe(77);
      const http = await app.inject({
        method: 'POST',
        url: `/v1/apps/${C}/connect-installations`,
        payload: { site: 'jira-only.atlassian.net' },
        headers: asOperator,
      });
      expect(http.statusCode).toBe(403);
      expect(http.json().error).toMatchObject({
        code: 'install-blocked',
        message: `The app vendor has blocked addon ${C} from being installed.`,
      });
      // The existing installation: installing again answers it; it still takes the new version.
      expect(await installConnectApp(ctx, { appId: C, site: 'acme.atlassian.net' })).toMatchObject({
        created: false,
        id: first.id,
      });
      expect(
        await ctx.installs.compareAndSetVersions(
          C,
          [{ id: first.id, expected: '1.0.0', target: '1.0.1', cause: 'automatic' }],
          h.clock.now(),
        ),
      ).toBe(1);
      await publish(C, 'connect', '1.0.2', descriptor({ blockInstall: false }), ROLLOUT_T0);
      const ok = await app.inject({
        method: 'POST',
        url: `/v1/apps/${C}/connect-installations`,
        payload: { site: 'jira-only.atlassian.net' },
        headers: asOperator,
      });
      expect(ok.statusCode).toBe(201);
      expect(ok.json()).toMatchObject({ created: true, sharedSecret: expect.any(String) });
      const entries = await audit.list({ appId: C, limit: 5 });
      expect(entries.map((e) => [e.action, e.outcome, e.target.site])).toEqual([
        ['installation.install', 'ok', 'jira-only.atlassian.net'],
        ['installation.install', 'install-blocked', 'jira-only.atlassian.net'],
      ]);
    });

    it('forgeAppLink: "Get the Forge app" appears once the installation runs the version whose descriptor has it', async () => {
      await publish(C, 'connect', '1.0.0', descriptor(), ROLLOUT_T0 - 2 * HOUR);
      const { id } = await installConnectApp(ctx, { appId: C, site: 'acme.atlassian.net' });
      const forgeLink = 'https://mpu.example.com/install/x?signature=abc&product=jira';
      await publish(C, 'connect', '1.0.1', descriptor({ forgeAppLink: forgeLink }), ROLLOUT_T0 - HOUR);
      expect((await showInstallation(ctx, id)).forgeAppLink).toBeNull();
      const before = await app.inject({ url: `/v1/installations/${id}`, headers: asOperator });
      expect(before.json().forgeAppLink).toBeNull();
      await ctx.installs.compareAndSetVersions(
        C,
        [{ id, expected: '1.0.0', target: '1.0.1', cause: 'automatic' }],
        h.clock.now(),
      );
      expect((await showInstallation(ctx, id)).forgeAppLink).toBe(forgeLink);
      const after = await app.inject({ url: `/v1/installations/${id}`, headers: asOperator });
      expect(after.json()).toMatchObject({ version: '1.0.1', forgeAppLink: forgeLink });
    });

    describe('GET /2.0/addon/{addon-key}/client-key as a Forge installation', () => {
      let forge: InstallResult;
      let connectId: string;
      const path = `/2.0/addon/${C}/client-key`;
      const jwt = (iss: string, secret: string, over: Record<string, unknown> = {}, url = path) =>
        encodeSymmetric(
          {
            iss,
            iat: Math.floor(h.clock.now() / 1000),
            exp: Math.floor(h.clock.now() / 1000) + 180,
            qsh: createQueryStringHash(fromMethodAndUrl('GET', url)),
            ...over,
          },
          secret,
        );
      const call = (token?: string, url = path) =>
        app.inject({ url, headers: token ? { authorization: `JWT ${token}` } : {} });

      beforeEach(async () => {
        await publish(C, 'connect', '1.0.0', descriptor({ forgeAppId: F }), ROLLOUT_T0 - 2 * HOUR);
        connectId = (await installConnectApp(ctx, { appId: C, site: 'acme.atlassian.net' })).id;
        const shared = await enableSharing(ctx, F, 'jira', 'v');
        forge = await installFromLink(ctx, {
          link: link(shared.link!),
          site: 'acme.atlassian.net',
          adminOf: 'jira',
          installer: 'alice',
        });
      });

      it("answers the Connect installation's clientKey on the same site, to a JWT signed with the Forge installation's shared secret", async () => {
        const res = await call(jwt(forge.id, forge.sharedSecret!));
        expect(res.statusCode).toBe(200);
        expect(res.json()).toEqual({ clientKey: connectId });
        expect(await connectClientKey(ctx, forge.id, C)).toEqual({ clientKey: connectId });
      });

      it('refuses unsigned (401), a bad signature (401), a stale or foreign qsh (401), an expired token (401)', async () => {
        const unsigned = await call();
        expect([unsigned.statusCode, unsigned.json().error.details.reason]).toEqual([401, 'unsigned']);
        const bad = await call(jwt(forge.id, 'not-the-secret'));
        expect([bad.statusCode, bad.json().error.details.reason]).toEqual([401, 'bad-signature']);
        const qsh = await call(jwt(forge.id, forge.sharedSecret!, {}, `/2.0/addon/other/client-key`));
        expect([qsh.statusCode, qsh.json().error.details.reason]).toEqual([401, 'qsh-mismatch']);
        const old = await call(jwt(forge.id, forge.sharedSecret!, { exp: Math.floor(h.clock.now() / 1000) - 3600 }));
        expect([old.statusCode, old.json().error.details.reason]).toEqual([401, 'expired']);
      });

      it("404 when the Connect app is not installed on the caller's site; 403 when forgeAppId names no Forge app or another one", async () => {
        const elsewhere = await installFromLink(ctx, {
          link: link((await showSharing(ctx, F)).link!),
          site: 'jira-only.atlassian.net',
          adminOf: 'jira',
          installer: 'alice',
        });
        const missing = await call(jwt(elsewhere.id, elsewhere.sharedSecret!));
        expect(missing.statusCode).toBe(404);
        expect(missing.json().error).toMatchObject({
          code: 'installation-not-found',
          details: { reason: 'connect-not-on-site' },
        });
        expect(missing.json().error.message).toMatch(/not installed on jira-only\.atlassian\.net/);

        // Another Forge app on the same site: the descriptor names F, not it.
        await h.ctx.apps.addForgeApp({ ari: F2, now: 0 });
        await publish(F2, 'forge', '2.0.0', manifest(['read:jira-work'], { id: F2 }), ROLLOUT_T0 - HOUR);
        const other = await installFromLink(ctx, {
          link: link((await enableSharing(ctx, F2, 'jira', 'v')).link!),
          site: 'acme.atlassian.net',
          adminOf: 'jira',
          installer: 'alice',
        });
        const foreign = await call(jwt(other.id, other.sharedSecret!));
        expect(foreign.statusCode).toBe(403);
        expect(foreign.json().error).toMatchObject({ code: 'forbidden', details: { reason: 'other-forge-app' } });

        // A Connect version without forgeAppId, taken by the installation: refused, saying so.
        await publish(C, 'connect', '1.0.1', descriptor(), ROLLOUT_T0 - HOUR);
        await ctx.installs.compareAndSetVersions(
          C,
          [{ id: connectId, expected: '1.0.0', target: '1.0.1', cause: 'automatic' }],
          h.clock.now(),
        );
        const unnamed = await call(jwt(forge.id, forge.sharedSecret!));
        expect(unnamed.statusCode).toBe(403);
        expect(unnamed.json().error).toMatchObject({ code: 'forbidden', details: { reason: 'no-forge-app-id' } });
      });
    });
  });
});
