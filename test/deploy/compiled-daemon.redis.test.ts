/**
 * The deployable build: `node dist/cli/main.js daemon` (what the Docker image runs, compiled by
 * `npm run build`, no tsx) starts from the environment, answers /healthz and /metrics, versions a
 * registered Connect app on its first scheduler tick, and stops on SIGTERM with exit 0. The build
 * is made here when dist/ is missing or older than src/ (.ci/run builds before the tests, so CI
 * tests the build it just made).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { Redis } from 'ioredis';
import { registerConnectApp } from '../../src/app/detection/register-app.js';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { createAppContext } from '../../src/runtime.js';
import { startLocalServer, type LocalServer } from '../helpers/detection-harness.js';
import { TEST_REDIS_URL, connectTestRedis, deleteKeysWithPrefix, testPrefix } from '../helpers/redis.js';

const root = path.resolve(import.meta.dirname, '../..');
const main = path.join(root, 'dist/cli/main.js');

function newest(dir: string): number {
  return Math.max(
    0,
    ...readdirSync(dir, { withFileTypes: true }).map((e) =>
      e.isDirectory() ? newest(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).mtimeMs,
    ),
  );
}

describe('the compiled daemon (dist/)', () => {
  let redis: Redis;
  let server: LocalServer;
  const prefix = testPrefix();

  beforeAll(async () => {
    if (!existsSync(main) || statSync(main).mtimeMs < newest(path.join(root, 'src')))
      execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
    redis = await connectTestRedis();
    server = await startLocalServer((_q, r) =>
      r
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ key: 'built-app', baseUrl: 'https://example.com', authentication: { type: 'jwt' } })),
    );
  }, 120_000);
  afterAll(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    await server.close();
  });

  it('answers /healthz, versions a Connect app, and stops on SIGTERM', async () => {
    const setup = createAppContext({ connection: redis, clock: systemClock, logger: silentLogger, prefix });
    try {
      await registerConnectApp(setup, 'built-app', server.url('/atlassian-connect.json'));
    } finally {
      await setup.close();
    }
    const child = spawn(process.execPath, [main, 'daemon'], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        REDIS_URL: TEST_REDIS_URL,
        MPU_PREFIX: prefix,
        PORT: '0',
        HOST: '127.0.0.1',
        MPU_WEBHOOK_SECRET: 'compiled-test-secret-0123',
        MPU_OPERATOR_TOKENS: 'ci:compiled-operator-token-0123456789',
        MPU_FETCH_ALLOW_NETWORKS: '127.0.0.1/32',
        MPU_FETCH_EXTRA_PORTS: String(server.port),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logs = '';
    let onStarted: (url: string) => void;
    const started = new Promise<string>((resolve) => (onStarted = resolve));
    const read = (d: Buffer) => {
      logs += d.toString();
      const line = logs.split('\n').find((l) => l.includes('"msg":"daemon:started"'));
      if (line) onStarted((JSON.parse(line) as { url: string }).url);
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      let timer: NodeJS.Timeout | undefined;
      const url = await Promise.race([
        started,
        exited.then((code) => Promise.reject(new Error(`daemon exited (${code}) before it started:\n${logs}`))),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`daemon did not start within 30 s:\n${logs}`)), 30_000);
        }),
      ]).finally(() => clearTimeout(timer));
      const health = await request(`${url}/healthz`);
      expect(health.statusCode).toBe(200);
      await health.body.dump();

      // The scheduler ticks as it starts; the app is due at once.
      const versions = createAppContext({ connection: redis, clock: systemClock, logger: silentLogger, prefix });
      try {
        const deadline = Date.now() + 20_000;
        let latest = await versions.versions.latestVersion('built-app');
        while (!latest && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          latest = await versions.versions.latestVersion('built-app');
        }
        expect(latest, logs).toMatchObject({ version: '1.0.0', source: 'poll' });
      } finally {
        await versions.close();
      }
      const metrics = await request(`${url}/metrics`);
      const text = await metrics.body.text();
      // Served without a token today; with viewer tokens configured a scrape sends one.
      if (metrics.statusCode === 200) expect(text).toMatch(/^mpu_versions_stored\{kind="connect"\} 1$/m);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(logs).toMatch(/"signal":"SIGTERM".*"msg":"daemon:stopping"/);
      expect(logs).toMatch(/"msg":"daemon:stopped"/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 90_000);
});
