import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  AppError,
  ERROR_CATALOGUE,
  ErrorCode,
  errorSpecFor,
  exitCodeFor,
  httpStatusFor,
  isRetryable,
  type ErrorCode as Code,
} from '../../src/lib/errors.js';

const codes = Object.values(ErrorCode);

describe('error catalogue', () => {
  it('has one entry per code, and none for a code that does not exist', () => {
    expect(Object.keys(ERROR_CATALOGUE).sort()).toEqual([...codes].sort());
  });

  it.each(codes)('%s: a one-line description, an error status, a sysexits status, a retry default', (code) => {
    const spec = ERROR_CATALOGUE[code];
    expect(spec.description).toMatch(/^\S.*\S$/);
    expect(spec.description).not.toMatch(/\n/);
    expect(spec.httpStatus).toBeGreaterThanOrEqual(400);
    expect(spec.httpStatus).toBeLessThan(600);
    expect([1, 64, 65, 66, 69, 75, 77, 78]).toContain(spec.exitCode);
    expect(typeof spec.retryable).toBe('boolean');
  });

  it('is frozen', () => {
    expect(Object.isFrozen(ERROR_CATALOGUE)).toBe(true);
    expect(Object.isFrozen(ERROR_CATALOGUE[ErrorCode.APP_NOT_FOUND])).toBe(true);
  });

  // The codes that answered 500 before the catalogue gave them a status, and representative others.
  it.each`
    code                           | status | exit  | retried
    ${'descriptor-invalid'}        | ${422} | ${65} | ${false}
    ${'descriptor-fetch-failed'}   | ${502} | ${69} | ${true}
    ${'descriptor-fetch-refused'}  | ${422} | ${69} | ${false}
    ${'policy-invalid'}            | ${422} | ${78} | ${false}
    ${'config-invalid'}            | ${500} | ${78} | ${false}
    ${'notify-failed'}             | ${502} | ${75} | ${true}
    ${'bulk-upgrade-refused'}      | ${409} | ${1}  | ${false}
    ${'store-unavailable'}         | ${503} | ${69} | ${true}
    ${'input-invalid'}             | ${400} | ${65} | ${false}
    ${'webhook-signature-invalid'} | ${401} | ${77} | ${false}
    ${'webhook-replayed'}          | ${409} | ${1}  | ${false}
    ${'rollout-not-found'}         | ${404} | ${66} | ${false}
    ${'rollout-conflict'}          | ${409} | ${1}  | ${false}
  `('$code: HTTP $status, exit $exit, retried $retried', ({ code, status, exit, retried }) => {
    const err = new AppError(code as Code, 'x');
    expect(httpStatusFor(code as Code)).toBe(status);
    expect(exitCodeFor(err)).toBe(exit);
    expect(err.retryable).toBe(retried);
    expect(isRetryable(err)).toBe(retried);
  });

  // Scripts and tests rely on these: the catalogue keeps every exit status the CLI had before it.
  it.each([
    ['descriptor-invalid', 65],
    ['payload-invalid', 65],
    ['input-invalid', 65],
    ['descriptor-fetch-failed', 69],
    ['descriptor-fetch-refused', 69],
    ['store-unavailable', 69],
    ['config-invalid', 78],
    ['policy-invalid', 78],
    ['app-not-found', 66],
    ['installation-not-found', 66],
    ['version-not-found', 66],
    ['rollout-not-found', 66],
  ] as const)('%s keeps exit status %i', (code, exit) => {
    expect(exitCodeFor(new AppError(code, 'x'))).toBe(exit);
  });

  it('an explicit retryable wins over the code default, both ways', () => {
    expect(new AppError(ErrorCode.DESCRIPTOR_FETCH_FAILED, 'HTTP 404', { retryable: false }).retryable).toBe(false);
    expect(new AppError(ErrorCode.ROLLOUT_CONFLICT, 'moved meanwhile', { retryable: true }).retryable).toBe(true);
    expect(isRetryable(new AppError(ErrorCode.NOTIFY_FAILED, 'HTTP 410', { retryable: false }))).toBe(false);
    expect(isRetryable(new AppError(ErrorCode.APP_CONFLICT, 'x', { retryable: true }))).toBe(true);
  });

  it('isRetryable: anything but an AppError is retried (an unexpected error such as a Redis hiccup)', () => {
    expect(isRetryable(new Error('ECONNRESET'))).toBe(true);
    expect(isRetryable('a thrown string')).toBe(true);
    expect(isRetryable(undefined)).toBe(true);
  });

  it('anything but an AppError exits 1; a code missing from the catalogue is an internal error', () => {
    expect(exitCodeFor(new Error('bug'))).toBe(1);
    expect(exitCodeFor('bug')).toBe(1);
    const unknown = 'no-such-code' as Code;
    expect(errorSpecFor(unknown)).toMatchObject({ httpStatus: 500, exitCode: 1, retryable: false });
    expect(httpStatusFor(unknown)).toBe(500);
    expect(new AppError(unknown, 'x').retryable).toBe(false);
    // Inherited properties of a plain object are not catalogue entries.
    expect(errorSpecFor('toString' as Code).httpStatus).toBe(500);
  });
});

describe('README.md "Errors" table', () => {
  it('lists the catalogue: code, HTTP status, exit status, retried, description', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = /^## Errors\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(readme)?.[1];
    expect(section, 'README.md has a "## Errors" section').toBeDefined();
    const rows = section!
      .split('\n')
      .filter((l) => /^\|\s*`/.test(l))
      .map((l) =>
        l
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim()),
      );
    const table = Object.fromEntries(rows.map(([code, ...cells]) => [code!.replace(/`/g, ''), cells]));
    const expected = Object.fromEntries(
      codes.map((c) => {
        const { httpStatus, exitCode, retryable, description } = ERROR_CATALOGUE[c];
        return [c, [String(httpStatus), String(exitCode), retryable ? 'yes' : 'no', description]];
      }),
    );
    expect(table).toEqual(expected);
  });
});
