/**
 * The rollout CLI's actions against real Redis (env REDIS_URL / MPU_PREFIX, as the CLI reads
 * them): import validates the whole file first, generate stores a population, the read commands
 * print JSON.
 */
import { capture } from '../helpers/stdout.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import {
  distributionCommand,
  generateInstallationsCommand,
  importInstallations,
  listInstallationsCommand,
  showInstallationCommand,
} from '../../src/cli/commands/installations.js';
import { TEST_REDIS_URL, connectTestRedis, deleteKeysWithPrefix, indexEntries, testPrefix } from '../helpers/redis.js';
import { openContext } from '../../src/main.js';
import { registerConnectApp } from '../../src/app/detection/register-app.js';
import { recordVersion } from '../../src/app/detection/record-version.js';
import { parseDescriptor } from '../../src/versioning/index.js';

let redis: Redis;
const prefix = testPrefix();
const dir = mkdtempSync(path.join(tmpdir(), 'mpu-cli-'));

beforeAll(async () => {
  redis = await connectTestRedis();
  process.env.REDIS_URL = TEST_REDIS_URL;
  process.env.MPU_PREFIX = prefix;
  // The app 'cli' with its first version, 1.0.0, stored as a poll stores it.
  const { ctx, close } = await openContext();
  try {
    await registerConnectApp(ctx, 'cli', 'https://vendor.example.com/cli/atlassian-connect.json');
    const d = parseDescriptor(
      JSON.stringify({ key: 'cli', baseUrl: 'https://example.com', authentication: { type: 'jwt' }, modules: {} }),
      { source: 'test', kind: 'connect' },
    );
    await ctx.descriptors.saveDescriptor('cli', d);
    await recordVersion(
      { ...ctx, enqueuePlanRollout: async () => {} },
      { v: 1, appId: 'cli', source: 'poll', descriptorHash: d.hash, baseVersion: null, detectedAt: ctx.clock.now() },
    );
  } finally {
    await close();
  }
});
afterAll(async () => {
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

describe('mpu installations / distribution', () => {
  it('import refuses a file with a bad line and stores nothing; a good file is stored', async () => {
    const bad = path.join(dir, 'bad.jsonl');
    writeFileSync(
      bad,
      '{"id":"a1","appId":"cli","site":"s","version":"1.0.0"}\n{"id":"a2","appId":"cli","site":"s","version":"nope"}\n{oops\n',
    );
    await expect(importInstallations(bad, {})).rejects.toMatchObject({
      code: 'input-invalid',
      message: expect.stringMatching(/line 2: version.*\n.*line 3: not JSON/s),
    });
    expect(await indexEntries(redis, prefix, 'installations')).toEqual({});

    // Well formed, but naming an app that does not exist and a version the app does not have:
    // every such line is listed, and nothing (not even the good line 1) is stored.
    const unknown = path.join(dir, 'unknown.jsonl');
    writeFileSync(
      unknown,
      [
        '{"id":"a1","appId":"cli","site":"s","version":"1.0.0"}',
        '{"id":"g1","appId":"ghost","site":"s","version":"1.0.0"}',
        '{"id":"g2","appId":"cli","site":"s","version":"99.0.0"}',
        '{"id":"g3","appId":"cli","site":"s","version":"99.0.0"}',
      ].join('\n'),
    );
    const err = await importInstallations(unknown, {}).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'input-invalid',
      message: expect.stringMatching(
        /line 2: app 'ghost' has no stored version.*\n.*line 3, line 4: app 'cli' has no version 99\.0\.0 \(stored: 1\.0\.0\)/s,
      ),
      meta: { details: { problems: [expect.stringMatching(/ghost/), expect.stringMatching(/99\.0\.0/)] } },
    });
    expect(await indexEntries(redis, prefix, 'installations')).toEqual({});
    expect(JSON.parse(await capture(() => distributionCommand('cli', { json: true })))).toMatchObject({ total: 0 });

    const good = path.join(dir, 'good.jsonl');
    writeFileSync(
      good,
      '{"id":"a1","appId":"cli","site":"s1","version":"1.0.0","checkTime":"04:00"}\n\n{"id":"a2","appId":"cli","site":"s2","version":"1.0.0"}\n',
    );
    expect(JSON.parse(await capture(() => importInstallations(good, { json: true })))).toMatchObject({
      created: 2,
      updated: 0,
    });
    await expect(importInstallations(path.join(dir, 'missing.jsonl'), {})).rejects.toMatchObject({
      code: 'input-invalid',
    });
  });

  it('generate, list, show and distribution', async () => {
    const gen = JSON.parse(
      await capture(() =>
        generateInstallationsCommand({ app: 'cli', count: '1200', seed: '5', current: '1.0.0', json: true }),
      ),
    );
    expect(gen).toMatchObject({ created: 1200, version: '1.0.0', seed: 5 });
    await expect(generateInstallationsCommand({ app: 'cli', count: 'lots', seed: '1' })).rejects.toMatchObject({
      code: 'input-invalid',
    });
    await expect(generateInstallationsCommand({ app: 'unknown-app', count: '1', seed: '1' })).rejects.toMatchObject({
      message: expect.stringMatching(/--current/),
    });
    expect(
      JSON.parse(await capture(() => listInstallationsCommand({ app: 'cli', offset: '0', limit: '2', json: true }))),
    ).toMatchObject({ total: 1202, installations: [{ id: 'a1' }, { id: 'a2' }] });
    expect(await capture(() => showInstallationCommand('a1', {}))).toMatch(/daily check:\s+04:00 UTC/);
    expect(JSON.parse(await capture(() => distributionCommand('cli', { json: true })))).toEqual({
      appId: 'cli',
      total: 1202,
      versions: [{ version: '1.0.0', count: 1202, percent: 100 }],
    });
  });
});
