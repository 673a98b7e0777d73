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
      env: {
        ...process.env,
        REDIS_URL: TEST_REDIS_URL,
        MPU_PREFIX: prefix,
        PORT: '0',
        HOST: '127.0.0.1',
        MPU_WEBHOOK_SECRET: 'signal-test-secret-0123',
        MPU_OPERATOR_TOKENS: 'signal-test:signal-operator-token-0123456789',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logs = '';
    /** Resolves with the daemon's `daemon:started` log line, read as the process writes it. */
    let onStarted: (started: { url?: string }) => void;
    const startedLine = new Promise<{ url?: string }>((resolve) => (onStarted = resolve));
    const read = (d: Buffer) => {
      logs += d.toString();
      const line = logs.split('\n').find((l) => l.includes('"msg":"daemon:started"'));
      if (line) onStarted(JSON.parse(line) as { url?: string });
    };
    child.stderr.on('data', read);
    child.stdout.on('data', read);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      let timer: NodeJS.Timeout | undefined;
      const started = await Promise.race([
        startedLine,
        exited.then((code) => Promise.reject(new Error(`daemon exited (${code}) before it started:\n${logs}`))),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`daemon did not start within 30 s:\n${logs}`)), 30_000);
        }),
      ]).finally(() => clearTimeout(timer));
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
