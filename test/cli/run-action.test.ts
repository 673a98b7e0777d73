import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppError, ErrorCode } from '../../src/lib/errors.js';
import { runAction } from '../../src/cli/run-action.js';

describe('runAction (the CLI boundary)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });

  function captureStderr(): string[] {
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (lines.push(String(chunk)), true));
    return lines;
  }

  it.each`
    code                                 | exit
    ${ErrorCode.DESCRIPTOR_FETCH_FAILED} | ${69}
    ${ErrorCode.POLICY_INVALID}          | ${78}
    ${ErrorCode.VERSION_NOT_FOUND}       | ${66}
    ${ErrorCode.NOTIFY_FAILED}           | ${75}
    ${ErrorCode.WEBHOOK_REPLAYED}        | ${1}
  `('an AppError $code is printed with its code and exits $exit', async ({ code, exit }) => {
    const stderr = captureStderr();
    await runAction(() => {
      throw new AppError(code, 'went wrong');
    })();
    expect(stderr).toEqual([`mpu: ${code}: went wrong\n`]);
    expect(process.exitCode).toBe(exit);
  });

  it('anything else prints its stack and exits 1', async () => {
    const stderr = captureStderr();
    await runAction(async () => {
      throw new Error('a bug');
    })();
    expect(stderr.join('')).toMatch(/^mpu: internal error: Error: a bug\n\s+at /);
    expect(process.exitCode).toBe(1);
  });
});
