/**
 * `mpu daemon` as an operator runs it: a real process, started from the environment, that stops
 * gracefully on SIGTERM (intake first, then in-flight jobs) and exits 0 (issue 3, "Running it").
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { TEST_REDIS_URL, connectTestRedis, deleteKeysWithPrefix, testPrefix } from '../helpers/redis.js';

const root = path.resolve(import.meta.dirname, '../..');

describe('mpu daemon process', () => {
  it('starts from the environment, answers /healthz, and exits 0 on SIGTERM after logging its stop', async () => {
    const prefix = testPrefix();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'daemon'], {
      cwd: root,
      env: { ...process.env, REDIS_URL: TEST_REDIS_URL, MPU_PREFIX: prefix, PORT: '0', HOST: '127.0.0.1', MPU_WEBHOOK_SECRET: 'signal-test-secret-0123', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logs = '';
    child.stderr.on('data', (d: Buffer) => (logs += d.toString()));
    child.stdout.on('data', (d: Buffer) => (logs += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      let started: { url?: string } | undefined;
      while (!started) {
        if (Date.now() > deadline) throw new Error(`daemon did not start within 30 s:\n${logs}`);
        const line = logs.split('\n').find((l) => l.includes('"msg":"daemon:started"'));
        if (line) started = JSON.parse(line) as { url?: string };
        else await new Promise((r) => setTimeout(r, 100));
      }
      expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await request(`${started.url}/healthz`);
      expect(res.statusCode).toBe(200);
      await res.body.dump();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(logs).toMatch(/"signal":"SIGTERM".*"msg":"daemon:stopping"/);
      expect(logs).toMatch(/"msg":"daemon:stopped"/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      const redis = await connectTestRedis();
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
    }
  }, 60_000);
});
