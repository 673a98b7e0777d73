/**
 * The CLI's audit trail against real Redis (env REDIS_URL / MPU_PREFIX, as the CLI reads them):
 * each state-changing command leaves one entry, failed ones too, naming `cli:<--actor>` or the OS
 * user; `mpu audit` prints them newest first, as a table or JSON, filtered by app.
 */
import { capture } from '../helpers/stdout.js';
import { recordVersion } from '../../src/app/detection/record-version.js';
import { parseDescriptor } from '../../src/versioning/index.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { approveCommand, controlRolloutCommand, importInstallations } from '../../src/cli/commands/installations.js';
import { removeAppCommand } from '../../src/cli/commands/apps.js';
import { auditCommand } from '../../src/cli/commands/audit.js';
import { cliActor, setCliActor } from '../../src/cli/audit.js';
import { registerConnectApp, registerForgeApp } from '../../src/app/detection/register-app.js';
import { createAppContext } from '../../src/runtime.js';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { AuditStore } from '../../src/store/audit-store.js';
import { createKeys } from '../../src/store/keys.js';
import { TEST_REDIS_URL, connectTestRedis, deleteKeysWithPrefix, testPrefix } from '../helpers/redis.js';

let redis: Redis;
const prefix = testPrefix();
const dir = mkdtempSync(path.join(tmpdir(), 'mpu-audit-'));
const ARI = 'ari:cloud:ecosystem::app/0c8f2b7e-1d2a-4c3b-9e8f-123456789abc';

const entries = () => new AuditStore(redis, createKeys(prefix)).list({ limit: 100 });

beforeAll(async () => {
  redis = await connectTestRedis();
  process.env.REDIS_URL = TEST_REDIS_URL;
  process.env.MPU_PREFIX = prefix;
  // Installations are only imported for a stored version: 'cli-app' gets its 1.0.0 as a poll stores it.
  const ctx = createAppContext({ connection: redis, clock: systemClock, logger: silentLogger, prefix });
  try {
    await registerConnectApp(ctx, 'cli-app', 'https://vendor.example.com/cli-app/atlassian-connect.json');
    const d = parseDescriptor(
      JSON.stringify({ key: 'cli-app', baseUrl: 'https://example.com', authentication: { type: 'jwt' }, modules: {} }),
      { source: 'test', kind: 'connect' },
    );
    await ctx.descriptors.saveDescriptor('cli-app', d);
    await recordVersion(
      { ...ctx, enqueuePlanRollout: async () => {} },
      {
        v: 1,
        appId: 'cli-app',
        source: 'poll',
        descriptorHash: d.hash,
        baseVersion: null,
        detectedAt: ctx.clock.now(),
      },
    );
  } finally {
    await ctx.close();
  }
});
afterEach(() => setCliActor(undefined));
afterAll(async () => {
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

describe('CLI audit trail', () => {
  it('actor: cli:<--actor>, else cli:<OS user>; a bad name is refused', () => {
    expect(cliActor()).toBe(`cli:${userInfo().username}`);
    setCliActor('bob');
    expect(cliActor()).toBe('cli:bob');
    expect(() => setCliActor('bob smith')).toThrow(/--actor/);
  });

  it('each state-changing command leaves one entry with its actor and outcome; mpu audit prints them', async () => {
    setCliActor('carol');
    const good = path.join(dir, 'good.jsonl');
    writeFileSync(good, '{"id":"c1","appId":"cli-app","site":"s","version":"1.0.0"}\n');
    const bad = path.join(dir, 'bad.jsonl');
    writeFileSync(bad, '{oops\n');
    await capture(() => importInstallations(good, {}));
    await expect(importInstallations(bad, {})).rejects.toMatchObject({ code: 'input-invalid' });
    await expect(approveCommand('nobody', '2.0.0', {})).rejects.toMatchObject({ code: 'installation-not-found' });
    await expect(controlRolloutCommand('halt', 'cli-app@9.9.9', {})).rejects.toMatchObject({
      code: 'rollout-not-found',
    });
    const ctx = createAppContext({ connection: redis, clock: systemClock, logger: silentLogger, prefix });
    await registerForgeApp(ctx, ARI);
    await ctx.close();
    await capture(() => removeAppCommand(ARI, { yes: true, json: true }));
    await expect(removeAppCommand(ARI, { yes: true })).rejects.toMatchObject({ code: 'app-not-found' });

    const list = (await entries()).reverse();
    expect(list.map((e) => [e.actor, e.action, e.outcome])).toEqual([
      ['cli:carol', 'installation.import', 'ok'],
      ['cli:carol', 'installation.import', 'input-invalid'],
      ['cli:carol', 'installation.approve', 'installation-not-found'],
      ['cli:carol', 'rollout.halt', 'rollout-not-found'],
      ['cli:carol', 'app.remove', 'ok'],
      ['cli:carol', 'app.remove', 'app-not-found'],
    ]);
    expect(list[0]!.target).toEqual({ app: 'cli-app', count: 1, path: good });
    expect(list[2]!.target).toEqual({ installation: 'nobody', version: '2.0.0' });
    expect(list[3]!.target).toEqual({ app: 'cli-app', version: '9.9.9' });
    for (const e of list) expect(e.requestId).toMatch(/^cli-[0-9a-f-]{36}$/);

    const json = JSON.parse(await capture(() => auditCommand({ app: 'cli-app', limit: '10', json: true })));
    expect(json.entries.map((e: { action: string }) => e.action)).toEqual(['rollout.halt', 'installation.import']);
    const table = await capture(() => auditCommand({ limit: '2' }));
    const lines = table.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^time\s+actor\s+action\s+outcome\s+target\s+request$/);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/cli:carol\s+app\.remove\s+app-not-found\s+ari:cloud/);
    await expect(auditCommand({ limit: '0' })).rejects.toMatchObject({ code: 'input-invalid' });
  });
});
