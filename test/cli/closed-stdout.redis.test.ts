/**
 * `mpu … | head -1`: the reader closes the pipe early and the CLI's next write fails with EPIPE.
 * Every command must then end quietly (no stack trace, exit 0), not crash on an unhandled
 * 'error' event. Spawns the real binary with its stdout closed before it writes anything.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_REDIS_URL, connectTestRedis, deleteKeysWithPrefix, testPrefix } from '../helpers/redis.js';
import { FIXTURES_DIR } from '../helpers/fixtures.js';

const root = path.resolve(import.meta.dirname, '../..');
const prefix = testPrefix();

/** Runs `mpu args` with stdout closed at once. @returns exit status and stderr. */
async function mpuIntoClosedPipe(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), ...args], {
    cwd: root,
    env: { ...process.env, REDIS_URL: TEST_REDIS_URL, MPU_PREFIX: prefix },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.destroy(); // as `head` does once it has its line
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  return { code, stderr };
}

beforeAll(async () => {
  const redis = await connectTestRedis();
  await redis.quit();
});
afterAll(async () => {
  const redis = await connectTestRedis();
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

describe('mpu with its stdout closed early (EPIPE)', () => {
  it.each([
    [['replay', path.join(FIXTURES_DIR, 'connect', 'ZenUml__confluence-plugin-cloud'), '--json']],
    [['rollouts', 'list']],
    [['apps', 'list', '--json']],
    [['--help']],
  ])(
    'mpu %j ends quietly with exit 0',
    async (args) => {
      const { code, stderr } = await mpuIntoClosedPipe(args);
      expect(stderr).not.toMatch(/EPIPE|Error|at /);
      expect(code).toBe(0);
    },
    30_000,
  );
});
