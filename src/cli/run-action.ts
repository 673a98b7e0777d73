import { AppError, exitCodeFor } from '../lib/errors.js';

/**
 * Wraps a commander action: an AppError is printed as `mpu: <code>: <message>` (with its details
 * in --json mode) and becomes the exit status (see `exitCodeFor`); anything else is a bug and
 * prints its stack. Never lets a rejection escape as an unhandled crash.
 */
export function runAction<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      reportError(err, process.argv.includes('--json'));
      process.exitCode = exitCodeFor(err);
    }
  };
}

/** Prints an error for a person (stderr) or, with `json`, as `{"error":{code,message,details}}` on stdout. */
export function reportError(err: unknown, json: boolean): void {
  if (err instanceof AppError) {
    if (json) {
      process.stdout.write(JSON.stringify({ error: { code: err.code, message: err.message, details: err.details ?? {} } }) + '\n');
    } else {
      process.stderr.write(`mpu: ${err.code}: ${err.message}\n`);
    }
    return;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  if (json) process.stdout.write(JSON.stringify({ error: { code: 'internal', message: e.message } }) + '\n');
  process.stderr.write(`mpu: internal error: ${e.stack ?? e.message}\n`);
}
