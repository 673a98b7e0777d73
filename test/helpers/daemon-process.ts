/**
 * `mpu daemon` as a real process (tests of what an operator runs): spawned with `env` added to a
 * minimal environment, its JSON logs collected, resolved once it logs `daemon:started` (with the
 * URL it listens on); a daemon that exits or does not start within 30 s fails with its logs.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface DaemonProcess {
  child: ChildProcess;
  /** `http://host:port` from the `daemon:started` line. */
  url: string;
  /** Everything the process wrote on stdout and stderr so far. */
  logs(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Starts `node ARGS… daemon` in `cwd`; kill it (or SIGTERM it) when done. */
export async function startDaemonProcess(
  args: readonly string[],
  env: Record<string, string>,
  cwd: string,
): Promise<DaemonProcess> {
  const child = spawn(process.execPath, [...args, 'daemon'], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logs = '';
  let onStarted: (url: string) => void;
  const started = new Promise<string>((resolve) => (onStarted = resolve));
  const read = (d: Buffer) => {
    logs += d.toString();
    const line = logs.split('\n').find((l) => l.includes('"msg":"daemon:started"'));
    if (line) onStarted((JSON.parse(line) as { url: string }).url);
  };
  child.stdout!.on('data', read);
  child.stderr!.on('data', read);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let timer: NodeJS.Timeout | undefined;
  try {
    const url = await Promise.race([
      started,
      exited.then((code) => Promise.reject(new Error(`daemon exited (${code}) before it started:\n${logs}`))),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`daemon did not start within 30 s:\n${logs}`)), 30_000);
      }),
    ]);
    return { child, url, logs: () => logs, exited };
  } catch (err) {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
