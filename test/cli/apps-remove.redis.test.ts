/**
 * `mpu apps remove APP [--yes] [--json]` against a real Redis (REDIS_URL / MPU_PREFIX, as the CLI
 * reads them): it refuses without --yes when nobody can confirm, asks on a terminal naming the
 * app and what goes, says which app it removed, and the app is gone from `apps list`, the poll
 * schedule and the installation index. Unknown apps map to app-not-found (exit 66).
 */
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerAppsCommands, removeAppCommand, type ConfirmIo } from '../../src/cli/commands/apps.js';
import { exitCodeFor } from '../../src/lib/errors.js';
import { recordVersion } from '../../src/app/detection/record-version.js';
import { registerConnectApp } from '../../src/app/detection/register-app.js';
import { parseDescriptor } from '../../src/versioning/index.js';
import { generatePopulation } from '../../src/app/rollout/installations.js';
import { indexEntries, TEST_REDIS_URL } from '../helpers/redis.js';
import { createHarness, type Harness } from '../helpers/detection-harness.js';
import { createRolloutHarness } from '../helpers/rollout-harness.js';

let h: Harness;
const env = { REDIS_URL: process.env.REDIS_URL, MPU_PREFIX: process.env.MPU_PREFIX };

/** Runs `fn` with stdout and stderr captured. */
async function capture(fn: () => Promise<void>): Promise<{ stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
      out.push(String(c));
      return true;
    }),
    vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
      err.push(String(c));
      return true;
    }),
  ];
  try {
    await fn();
  } finally {
    for (const s of spies) s.mockRestore();
  }
  return { stdout: out.join(''), stderr: err.join('') };
}

/** `mpu …` through commander and runAction, as the binary runs it. @returns output and exit status. */
async function mpu(...args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const program = new Command('mpu').exitOverride();
  registerAppsCommands(program);
  const res = await capture(() => program.parseAsync(['node', 'mpu', ...args]).then(() => {}));
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { ...res, exitCode };
}

const noTerminal: ConfirmIo = { interactive: () => false, ask: () => Promise.reject(new Error('must not ask')) };
const answering = (answer: string, questions: string[]): ConfirmIo => ({
  interactive: () => true,
  ask: async (q) => (questions.push(q), answer),
});

async function seed(appId: string, installations: number): Promise<void> {
  await registerConnectApp(h.ctx, appId, `https://vendor.example.com/${appId}/atlassian-connect.json`);
  const d = parseDescriptor(
    JSON.stringify({ key: appId, baseUrl: 'https://example.com', authentication: { type: 'jwt' }, modules: {} }),
    { source: 'test', kind: 'connect' },
  );
  await h.ctx.descriptors.saveDescriptor(appId, d);
  await recordVersion(
    { ...h.ctx, enqueuePlanRollout: async () => {} },
    { v: 1, appId, source: 'poll', descriptorHash: d.hash, baseVersion: null, detectedAt: h.clock.now() },
  );
  const rollout = await createRolloutHarness({ share: h, clock: h.clock, versions: h.ctx.versions, workers: false });
  try {
    await generatePopulation(rollout.ctx, { appId, count: installations, seed: 1, version: '1.0.0' });
  } finally {
    await rollout.close();
  }
}

beforeAll(async () => {
  h = await createHarness();
  process.env.REDIS_URL = TEST_REDIS_URL;
  process.env.MPU_PREFIX = h.prefix;
  await seed('cli-app', 25);
  await seed('cli-app-2', 5);
});
afterEach(() => {
  process.exitCode = undefined;
});
afterAll(async () => {
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await h.close();
});

describe('mpu apps remove', () => {
  it('refuses without --yes when stdin is not a terminal (input-invalid, exit 65) and removes nothing', async () => {
    const err = await removeAppCommand('cli-app', {}, noTerminal).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'input-invalid',
      message: expect.stringMatching(
        /not removing connect app cli-app \(1 version, 25 installations, 0 rollouts\).*pass --yes/,
      ),
    });
    expect(exitCodeFor(err)).toBe(65);
    // The same through the binary's path (vitest's stdin is no terminal).
    const run = await mpu('apps', 'remove', 'cli-app');
    expect(run.exitCode).toBe(65);
    expect(run.stderr).toMatch(/^mpu: input-invalid: not removing connect app cli-app .*--yes/);
    expect(await h.ctx.apps.getApp('cli-app')).not.toBeNull();
  });

  it('on a terminal asks, naming the app and its counts; anything but yes removes nothing (exit 1)', async () => {
    const questions: string[] = [];
    const { stderr } = await capture(() => removeAppCommand('cli-app', {}, answering('n', questions)));
    expect(questions).toEqual([
      expect.stringMatching(
        /^Remove connect app cli-app and delete its data: 1 version, 25 installations, 0 rollouts\? .*\[y\/N\] $/,
      ),
    ]);
    expect(stderr).toBe('app cli-app not removed\n');
    expect(process.exitCode).toBe(1);
    expect(await h.ctx.apps.getApp('cli-app')).not.toBeNull();
  });

  it('unknown app: app-not-found, exit 66', async () => {
    await expect(removeAppCommand('no-such-app', { yes: true })).rejects.toMatchObject({ code: 'app-not-found' });
    const run = await mpu('apps', 'remove', 'no-such-app', '--yes');
    expect(run).toMatchObject({
      exitCode: 66,
      stderr: "mpu: app-not-found: no app 'no-such-app' (see 'mpu apps list')\n",
    });
  });

  it('confirmed: says which app it removed; it is gone from apps list, the schedule and the installation index; the other app stays', async () => {
    expect(await h.ctx.schedule.nextDue('cli-app')).not.toBeNull();
    const { stdout } = await capture(() => removeAppCommand('cli-app', {}, answering('yes', [])));
    expect(stdout).toMatch(
      /^removed connect app cli-app: 1 version, 25 installations, 0 rollouts deleted \(\d+ keys\); its polling has stopped\n$/,
    );

    const list = JSON.parse((await mpu('apps', 'list', '--json')).stdout) as { apps: { id: string }[] };
    expect(list.apps.map((a) => a.id)).toEqual(['cli-app-2']);
    expect(await h.ctx.schedule.nextDue('cli-app')).toBeNull();
    expect(new Set(Object.values(await indexEntries(h.connection, h.ctx.keys.prefix, 'installations')))).toEqual(
      new Set(['cli-app-2']),
    );
    expect((await mpu('apps', 'show', 'cli-app')).exitCode).toBe(66);
  });

  it('--yes --json prints what was removed', async () => {
    const run = await mpu('apps', 'remove', 'cli-app-2', '--yes', '--json');
    expect(run.exitCode).toBe(0);
    const { removed } = JSON.parse(run.stdout) as { removed: Record<string, unknown> };
    expect(removed).toMatchObject({
      appId: 'cli-app-2',
      kind: 'connect',
      recordDeleted: true,
      versions: 1,
      installations: 5,
      rollouts: 0,
      installationIndexEntries: 5,
    });
    // record, versions, version order, 1 descriptor, installation ids, records (with versions and
    // histories), distribution, registration log, the set of installations with maintenance windows
    expect(removed.keys).toBe(9);
    expect(await indexEntries(h.connection, h.ctx.keys.prefix, 'installations')).toEqual({});
    expect(await indexEntries(h.connection, h.ctx.keys.prefix, 'sites-index')).toEqual({});
  });
});
