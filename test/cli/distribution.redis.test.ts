/**
 * The distribution commands as written in their help, through commander and runAction against a
 * real Redis (REDIS_URL / MPU_PREFIX / MPU_APPROVAL_SECRET, as the CLI reads them): `mpu sites
 * add`, `mpu apps sharing enable|regenerate|stop --json` (the link as `link`), `mpu install LINK
 * --site S --admin-of P --json` (the installation as `id`, the installer being the CLI's actor),
 * `mpu install connect APP --site S` (blockInstall: exit 77 with the seed's message),
 * `mpu installations client-key`, `mpu apps listing submit`, `mpu installations show` with
 * "Get the Forge app".
 */
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerAppsCommands } from '../../src/cli/commands/apps.js';
import { registerRolloutCommands } from '../../src/cli/commands/rollout.js';
import { registerDistributionCommands } from '../../src/cli/commands/distribution.js';
import { setCliActor } from '../../src/cli/audit.js';
import { recordVersion } from '../../src/app/detection/record-version.js';
import { parseDescriptor } from '../../src/versioning/index.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { createHarness, type Harness } from '../helpers/detection-harness.js';

const F = 'ari:cloud:ecosystem::app/8d4e5f6a-7b8c-4d9e-8f0a-2b3c4d5e6f7a';
const C = 'com.example.cli-notes';
const saved = { ...process.env };
let h: Harness;

/** `mpu …` in-process, as the binary runs it. @returns stdout, stderr, exit status */
async function mpu(...args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const program = new Command('mpu').exitOverride();
  registerAppsCommands(program);
  registerRolloutCommands(program);
  registerDistributionCommands(program);
  const out: string[] = [];
  const err: string[] = [];
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => (out.push(String(c)), true)),
    vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => (err.push(String(c)), true)),
  ];
  try {
    await program.parseAsync(['node', 'mpu', ...args]);
  } finally {
    for (const s of spies) s.mockRestore();
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { stdout: out.join(''), stderr: err.join(''), exitCode };
}

/** Stores `text` as the next version of `appId` (the versioning step, as a poll or deploy would). */
async function publish(appId: string, kind: 'connect' | 'forge', text: string): Promise<void> {
  const d = parseDescriptor(text, { source: 'test', kind });
  await h.ctx.descriptors.saveDescriptor(appId, d);
  const latest = await h.ctx.versions.latestVersion(appId);
  await recordVersion(
    { ...h.ctx, enqueuePlanRollout: async () => {} },
    {
      v: 1,
      appId,
      source: kind === 'forge' ? 'deploy' : 'poll',
      descriptorHash: d.hash,
      baseVersion: latest?.version ?? null,
      detectedAt: h.clock.now(),
      ...(kind === 'forge' ? { deploymentId: `d-${d.hash.slice(7, 15)}` } : {}),
    },
  );
  h.clock.advance(60_000);
}

const connect = (over: Record<string, unknown>) =>
  JSON.stringify({
    key: C,
    baseUrl: 'https://notes.example.com',
    modules: { jiraIssueGlances: [{ key: 'g', name: { value: 'Notes' } }] },
    ...over,
  });

beforeAll(async () => {
  h = await createHarness();
  Object.assign(process.env, {
    REDIS_URL: TEST_REDIS_URL,
    MPU_PREFIX: h.prefix,
    MPU_APPROVAL_SECRET: 'cli-approval-secret-0123456789',
    MPU_PUBLIC_URL: 'https://mpu.example.com',
  });
  await h.ctx.apps.addForgeApp({ ari: F, now: 0 });
  await h.ctx.apps.addConnectApp({ id: C, descriptorUrl: 'https://notes.example.com/atlassian-connect.json', now: 0 });
  await publish(F, 'forge', JSON.stringify({ app: { id: F }, permissions: { scopes: ['read:jira-work'] } }));
  await publish(C, 'connect', connect({ forgeAppId: F }));
});
afterAll(async () => {
  setCliActor(undefined);
  for (const k of ['REDIS_URL', 'MPU_PREFIX', 'MPU_APPROVAL_SECRET', 'MPU_PUBLIC_URL']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  await h.close();
});

describe('distribution commands', () => {
  it('sites, sharing, install by link and connect, client-key, blockInstall, listing, as written', async () => {
    const site = await mpu(
      'sites',
      'add',
      'acme.atlassian.net',
      '--products',
      'jira',
      '--admins',
      'jira:carol',
      '--json',
    );
    expect(JSON.parse(site.stdout)).toMatchObject({
      created: true,
      site: { products: ['jira'], admins: { jira: ['carol'] } },
    });

    const enabled = await mpu('apps', 'sharing', 'enable', F, '--products', 'jira', '--json');
    const { link } = JSON.parse(enabled.stdout) as { link: string };
    expect(JSON.parse(enabled.stdout)).not.toHaveProperty('salt');
    expect(link).toMatch(/^https:\/\/mpu\.example\.com\/install\/ari%3Acloud.*\?signature=[\w-]{43}&product=jira$/);

    // The installer is the CLI's actor, who must be an admin of the product on the site.
    setCliActor('mallory');
    const notAdmin = await mpu('install', link, '--site', 'acme.atlassian.net', '--admin-of', 'jira');
    expect(notAdmin.exitCode).toBe(77);
    expect(notAdmin.stderr).toMatch(/^mpu: install-refused: mallory is not an admin of jira on acme\.atlassian\.net/);
    setCliActor('carol');
    const installed = await mpu('install', link, '--site', 'acme.atlassian.net', '--admin-of', 'jira', '--json');
    const forge = JSON.parse(installed.stdout) as { id: string; created: boolean; sharedSecret: string };
    expect(forge).toMatchObject({ created: true, sharedSecret: expect.stringMatching(/^[\w-]{43}$/) });
    const again = await mpu('install', link, '--site', 'acme.atlassian.net', '--admin-of', 'jira');
    expect(again.stdout).toMatch(/already installed on acme\.atlassian\.net/);
    expect(again.stdout).not.toContain('shared secret:');

    const conn = await mpu('install', 'connect', C, '--site', 'acme.atlassian.net', '--json');
    const connectId = (JSON.parse(conn.stdout) as { id: string }).id;
    const key = await mpu('installations', 'client-key', '--forge-installation', forge.id, '--addon', C, '--json');
    expect(JSON.parse(key.stdout)).toEqual({ clientKey: connectId });

    await publish(C, 'connect', connect({ forgeAppId: F, forgeAppLink: link, blockInstall: true }));
    await mpu('sites', 'add', 'beta.atlassian.net', '--products', 'jira');
    const blocked = await mpu('install', 'connect', C, '--site', 'beta.atlassian.net');
    expect(blocked.exitCode).toBe(77);
    expect(blocked.stderr).toBe(`mpu: install-blocked: The app vendor has blocked addon ${C} from being installed.\n`);
    // Not yet "Get the Forge app": the installation still runs the version without the link.
    expect((await mpu('installations', 'show', connectId)).stdout).not.toContain('Get the Forge app');
    await h.ctx.installs.compareAndSetVersions(
      C,
      [{ id: connectId, expected: '1.0.0', target: '1.0.1', cause: 'automatic' }],
      h.clock.now(),
    );
    expect((await mpu('installations', 'show', connectId)).stdout).toContain(`Get the Forge app: ${link}`);

    const regenerated = await mpu('apps', 'sharing', 'regenerate', F, '--json');
    expect(JSON.parse(regenerated.stdout).link).not.toBe(link);
    const stale = await mpu('install', link, '--site', 'beta.atlassian.net', '--admin-of', 'jira');
    expect(stale.exitCode).toBe(77);
    expect(stale.stderr).toMatch(/^mpu: install-link-invalid: this installation link is no longer valid/);
    expect((await mpu('apps', 'sharing', 'stop', F)).stdout).toMatch(/every installation link of .* is refused/);
    const listed = await mpu('apps', 'listing', 'submit', F);
    expect(listed.stdout).toMatch(/submitted for listing/);
    const refused = await mpu('apps', 'sharing', 'enable', F, '--products', 'jira');
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/^mpu: sharing-refused: .*submitted for listing on the Marketplace/);
  });
});
