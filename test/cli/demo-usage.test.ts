/**
 * `mpu demo`'s usage errors, as a new user meets them: a --hours too short for the change
 * interval is refused before anything starts (exit 64, one line, no stack trace).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { minDemoHours } from '../../src/demo/run-demo.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const mpu = (args: string[]) =>
  run(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, REDIS_URL: 'redis://127.0.0.1:1' }, // never reached
  }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

describe('mpu demo usage', () => {
  it('a too-short --hours is a usage error: exit 64, one line, no stack', async () => {
    expect(minDemoHours(8)).toBe(50);
    const r = await mpu(['demo', '--hours', '48']);
    expect(r.code).toBe(64);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([
      "mpu: usage-invalid: --hours 48 is too short for changes every 8 h: at least 50 (changes stop 34 h before the end so every rollout can finish, and each app's first change comes within two intervals; or lower --change-every)",
    ]);
    const shorter = await mpu(['demo', '--hours', '39', '--change-every', '3', '--json']);
    expect(shorter.code).toBe(64);
    expect(JSON.parse(shorter.stdout)).toMatchObject({ error: { code: 'usage-invalid' } });
  });
});

describe('command-line parse errors', () => {
  it('an invalid option value, an unknown option and a missing subcommand exit 64; --help and --version exit 0', async () => {
    const share = await mpu(['replay', 'x', '--installations', '10', '--approve-share', '1.5']);
    expect(share.code).toBe(64);
    expect(share.stderr).toMatch(/^error: option '--approve-share <s>' argument '1\.5' is invalid/);
    expect((await mpu(['replay', '--bogus'])).code).toBe(64);
    const bare = await mpu(['rollouts']);
    expect(bare.code).toBe(64);
    expect(bare.stderr).toContain('Usage: mpu rollouts');
    expect((await mpu(['--version'])).code).toBe(0);
    const help = await mpu(['replay', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: mpu replay');
  });
});
