import { AppError, exitCodeFor } from '../lib/errors.js';

/**
 * Wraps a commander action, the CLI boundary's one translation of errors (STYLE.md, "Error
 * model"): an AppError is printed as `mpu: <code>: <message>` (with its details in --json mode)
 * and its code's catalogue exit status becomes the process's (`exitCodeFor`, src/lib/errors.ts:
 * 65 data, 66 not found, 69 unavailable, 75 temporary, 78 config, 1 other); anything else is a
 * bug, prints its stack and exits 1. Never lets a rejection escape as an unhandled crash.
 */
export function runAction<A extends unknown[]>(
  fn: (...args: A) => Promise<void> | void,
): (...args: A) => Promise<void> {
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
      process.stdout.write(
        JSON.stringify({ error: { code: err.code, message: err.message, details: err.details ?? {} } }) + '\n',
      );
    } else {
      process.stderr.write(`mpu: ${err.code}: ${err.message}\n`);
    }
    return;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  if (json) process.stdout.write(JSON.stringify({ error: { code: 'internal', message: e.message } }) + '\n');
  process.stderr.write(`mpu: internal error: ${e.stack ?? e.message}\n`);
}

/**
 * Makes a closed stdout end the process quietly: `mpu rollouts list | head -1` closes the pipe
 * after one line, and the next write fails with EPIPE, which with no listener is an uncaught
 * exception and a stack trace. The reader has what it wanted, so the process exits at once with
 * the status it already has (0 unless a command failed before). Other stream errors are rethrown.
 * Installed once by the entry point (src/cli/main.ts), so it covers every command.
 */
export function exitQuietlyOnClosedStdout(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(Number(process.exitCode ?? 0));
  });
}
