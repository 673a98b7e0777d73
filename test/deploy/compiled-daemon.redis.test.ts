/**
 * The deployable build: `node dist/cli/main.js daemon` (what the Docker image runs, compiled by
 * `npm run build`, no tsx) starts from the environment, answers /healthz and /metrics, versions a
 * registered Connect app on its first scheduler tick, and stops on SIGTERM with exit 0. The build
 * is made here when dist/ is missing or older than src/ (.ci/run builds before the tests, so CI
 * tests the build it just made).
 */
import { execFileSync } from 'node:child_process';
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
import { startDaemonProcess } from '../helpers/daemon-process.js';
import { TEST_REDIS_ENV, connectTestRedis, deleteKeysWithPrefix, testPrefix } from '../helpers/redis.js';

const root = path.resolve(import.meta.dirname, '../..');
const main = path.join(root, 'dist/cli/main.js');
const VIEWER_TOKEN = 'compiled-viewer-token-0123456789';

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
    const daemon = await startDaemonProcess(
      [main],
      {
        ...TEST_REDIS_ENV,
        MPU_PREFIX: prefix,
        PORT: '0',
        HOST: '127.0.0.1',
        MPU_WEBHOOK_SECRET: 'compiled-test-secret-0123',
        MPU_OPERATOR_TOKENS: 'ci:compiled-operator-token-0123456789',
        MPU_VIEWER_TOKENS: `prometheus:${VIEWER_TOKEN}`,
        MPU_FETCH_ALLOW_NETWORKS: '127.0.0.1/32',
        MPU_FETCH_EXTRA_PORTS: String(server.port),
        LOG_LEVEL: 'info',
      },
      root,
    );
    const { child, url, logs, exited } = daemon;
    try {
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
        expect(latest, logs()).toMatchObject({ version: '1.0.0', source: 'poll' });
      } finally {
        await versions.close();
      }
      // Prometheus scrapes with a viewer token.
      const metrics = await request(`${url}/metrics`, { headers: { authorization: `Bearer ${VIEWER_TOKEN}` } });
      const text = await metrics.body.text();
      expect(metrics.statusCode).toBe(200);
      expect(text).toMatch(/^mpu_versions_stored\{kind="connect"\} 1$/m);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(logs()).toMatch(/"signal":"SIGTERM".*"msg":"daemon:stopping"/);
      expect(logs()).toMatch(/"msg":"daemon:stopped"/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 90_000);
});
