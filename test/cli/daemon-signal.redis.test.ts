/**
 * `mpu daemon` as an operator runs it: a real process, started from the environment, that stops
 * gracefully on SIGTERM (intake first, then in-flight jobs) and exits 0.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startDaemonProcess } from '../helpers/daemon-process.js';
import { TEST_REDIS_ENV, connectTestRedis, deleteKeysWithPrefix, testPrefix } from '../helpers/redis.js';

const root = path.resolve(import.meta.dirname, '../..');

describe('mpu daemon process', () => {
  it('starts from the environment, answers /healthz, and exits 0 on SIGTERM after logging its stop', async () => {
    const prefix = testPrefix();
    try {
      const daemon = await startDaemonProcess(
        ['--import', 'tsx', path.join(root, 'src/cli/main.ts')],
        {
          ...TEST_REDIS_ENV,
          MPU_PREFIX: prefix,
          PORT: '0',
          HOST: '127.0.0.1',
          MPU_WEBHOOK_SECRET: 'signal-test-secret-0123',
          MPU_OPERATOR_TOKENS: 'signal-test:signal-operator-token-0123456789',
          LOG_LEVEL: 'info',
        },
        root,
      );
      try {
        expect(daemon.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        const res = await request(`${daemon.url}/healthz`);
        expect(res.statusCode).toBe(200);
        await res.body.dump();
        daemon.child.kill('SIGTERM');
        expect(await daemon.exited).toBe(0);
        expect(daemon.logs()).toMatch(/"signal":"SIGTERM".*"msg":"daemon:stopping"/);
        expect(daemon.logs()).toMatch(/"msg":"daemon:stopped"/);
      } finally {
        if (daemon.child.exitCode === null) daemon.child.kill('SIGKILL');
      }
    } finally {
      const redis = await connectTestRedis();
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
    }
  }, 60_000);
});
