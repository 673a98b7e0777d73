/**
 * `startDaemon` wiring: one process runs scheduler, HTTP API and workers
 * (rollout workers included); a registered Connect app gets its first version without any call
 * but the daemon's own tick; close() stops everything and leaves no handle open.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/config.js';
import { ManualClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { startDaemon } from '../../src/main.js';
import { createAppContext } from '../../src/runtime.js';
import { registerConnectApp } from '../../src/app/detection/register-app.js';
import { TEST_REDIS_ENV, connectTestRedis, deleteKeysWithPrefix, testPrefix } from '../helpers/redis.js';
import { startLocalServer, T0, type LocalServer } from '../helpers/detection-harness.js';
import type { AppError } from '../../src/lib/errors.js';

const OPERATOR_TOKEN = 'boot-operator-token-0123456789';
const VIEWER_TOKEN = 'boot-viewer-token-0123456789';
const asViewer = { authorization: `Bearer ${VIEWER_TOKEN}` };

describe('mpu daemon (startDaemon)', () => {
  let redis: Redis;
  let server: LocalServer;
  const prefix = testPrefix();
  beforeEach(async () => {
    redis = await connectTestRedis();
    server = await startLocalServer((_q, r) =>
      r
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ key: 'boot-app', baseUrl: 'https://example.com', authentication: { type: 'jwt' } })),
    );
  });
  afterEach(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    await server.close();
  });

  it('boots all parts, versions a due app, serves /healthz, and stops cleanly', async () => {
    const config = loadConfig({
      ...TEST_REDIS_ENV,
      MPU_PREFIX: prefix,
      PORT: '0',
      MPU_WEBHOOK_SECRET: 'boot-secret-0123456789',
      MPU_OPERATOR_TOKENS: `boot-test:${OPERATOR_TOKEN}`,
      MPU_VIEWER_TOKENS: `boot-viewer:${VIEWER_TOKEN}`,
      MPU_FETCH_ALLOW_NETWORKS: '127.0.0.1/32',
      MPU_FETCH_EXTRA_PORTS: String(server.port),
      LOG_LEVEL: 'silent',
    });
    const clock = new ManualClock(T0);
    const setup = createAppContext({ connection: redis, clock, logger: silentLogger, prefix });
    await registerConnectApp(setup, 'boot-app', server.url('/atlassian-connect.json'));
    await setup.close();

    const daemon = await startDaemon(
      config,
      { scheduler: true, http: true, workers: true },
      { clock, logger: silentLogger },
    );
    try {
      // The scheduler ticks as it starts, so the version may be stored before anyone can listen:
      // listen first, then read; await the event only when the read found nothing yet.
      const created = daemon.ctx.events.next('version:created', (e) => e.appId === 'boot-app', 10_000);
      created.catch(() => {}); // unawaited when the version was there already
      if ((await daemon.ctx.versions.listVersions('boot-app')).length === 0) await created;
      expect((await daemon.ctx.versions.listVersions('boot-app')).map((v) => v.version)).toEqual(['1.0.0']);
      const res = await request(`${daemon.url}/healthz`);
      expect(await res.body.json()).toEqual({ status: 'ok' });
      expect((await request(`${daemon.url}/v1/apps/boot-app`)).statusCode).toBe(401);
      const shown = await request(`${daemon.url}/v1/apps/boot-app`, { headers: asViewer });
      expect(await shown.body.json()).toMatchObject({
        app: { id: 'boot-app', lastPollOutcome: 'changed' },
        latestVersion: '1.0.0',
      });
      // One registry: detection and rollout metrics side by side on /metrics.
      const metrics = await (await request(`${daemon.url}/metrics`, { headers: asViewer })).body.text();
      expect(metrics).toMatch(/^mpu_versions_total\{kind="connect",bump="initial",approval="automatic"\} 1$/m);
      expect(metrics).toMatch(/^# TYPE mpu_upgrades_total counter$/m);
      expect(metrics).toMatch(/^# TYPE mpu_rollout_progress_percent gauge$/m);
      // Every queue of the process is counted, admin notices included.
      for (const queue of ['descriptor-poll', 'versioning', 'rollout', 'notify']) {
        expect(metrics).toMatch(new RegExp(`^mpu_queue_jobs\\{queue="${queue}",state="waiting"\\} \\d+$`, 'm'));
      }
    } finally {
      await daemon.close();
      const cleanup = createAppContext({ connection: redis, clock, logger: silentLogger, prefix });
      for (const q of Object.values(cleanup.queues)) await q.obliterate({ force: true });
      await cleanup.close();
    }
  });

  it('refuses to start the HTTP API without a webhook secret and an operator token, reporting both', async () => {
    const config = loadConfig({ ...TEST_REDIS_ENV, MPU_PREFIX: prefix, LOG_LEVEL: 'silent' });
    const err = await startDaemon(
      config,
      { scheduler: false, http: true, workers: false },
      { logger: silentLogger },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'config-invalid' });
    expect((err as AppError).message).toMatch(/MPU_WEBHOOK_SECRET.*MPU_OPERATOR_TOKENS/);
    expect((err as AppError).details).toMatchObject({
      issues: [{ variable: 'MPU_WEBHOOK_SECRET' }, { variable: 'MPU_OPERATOR_TOKENS' }],
    });
    const withSecret = loadConfig({ MPU_PREFIX: prefix, MPU_WEBHOOK_SECRET: 'boot-secret-0123456789' });
    await expect(
      startDaemon(withSecret, { scheduler: false, http: true, workers: false }, { logger: silentLogger }),
    ).rejects.toThrow(/MPU_OPERATOR_TOKENS.*required/);
  });
});
