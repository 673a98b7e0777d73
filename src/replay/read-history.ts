/**
 * Reads a descriptor history for `mpu replay`: a folder of versions, or a git repository's
 * history of one file. I/O lives here; the replay itself is pure (src/versioning/replay.ts).
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { AppError, ErrorCode } from '../lib/errors.js';
import type { HistoryItem } from '../versioning/replay.js';

const run = promisify(execFile);
const DESCRIPTOR_FILE = /\.(json|ya?ml)$/i;
/** `NNN_YYYY-MM-DD_sha.ext`, the fixtures' naming: the date is taken from the name. */
const DATED_NAME = /^\d+_(\d{4}-\d{2}-\d{2})_/;

/**
 * The `.json`, `.yml` and `.yaml` files of `dir`, sorted by file name (other files ignored).
 * @throws AppError `input-invalid` when `dir` is not a readable folder or holds no descriptor.
 */
export async function readFolderHistory(dir: string): Promise<HistoryItem[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => DESCRIPTOR_FILE.test(n)).sort();
  } catch (err) {
    throw new AppError(ErrorCode.INPUT_INVALID, `cannot read folder ${dir}: ${(err as Error).message}`, { cause: err });
  }
  if (names.length === 0) throw new AppError(ErrorCode.INPUT_INVALID, `${dir} holds no .json, .yml or .yaml file`);
  return Promise.all(
    names.map(async (name) => ({
      label: name,
      date: DATED_NAME.exec(name)?.[1],
      text: await readFile(path.join(dir, name), 'utf8'),
    })),
  );
}

/** True when `p` is a directory. */
export async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function git(repo: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run('git', ['-C', repo, ...args], { maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new AppError(ErrorCode.INPUT_INVALID, `git ${args[0]} failed in ${repo}: ${(e.stderr || e.message).trim()}`, {
      cause: err,
    });
  }
}

/**
 * The committed versions of `file` in the git repository `repo`, oldest first, following renames
 * (`git log --follow`); commits that delete the file are skipped. `onProgress(done, total)` is
 * called after each commit's file is read (one `git show` each).
 * @throws AppError `input-invalid` when `repo` is not a git repository or the file has no history.
 */
export async function readGitHistory(
  repo: string,
  file: string,
  onProgress?: (done: number, total: number) => void,
): Promise<HistoryItem[]> {
  const log = await git(repo, ['log', '--follow', '--format=@@%H%x09%cI', '--name-status', '--', file]);
  const commits: Array<{ sha: string; date: string; path: string }> = [];
  let cur: { sha: string; date: string } | null = null;
  for (const line of log.split('\n')) {
    if (line.startsWith('@@')) {
      const [sha, date] = line.slice(2).split('\t');
      cur = { sha: sha!, date: date! };
    } else if (cur && line.trim()) {
      const parts = line.split('\t');
      const status = parts[0]!;
      if (status.startsWith('D')) {
        cur = null;
        continue;
      }
      commits.push({ ...cur, path: parts[parts.length - 1]! });
      cur = null;
    }
  }
  if (commits.length === 0) throw new AppError(ErrorCode.INPUT_INVALID, `${file} has no history in ${repo}`);
  commits.reverse();
  const items: HistoryItem[] = [];
  for (const c of commits) {
    items.push({
      label: c.sha.slice(0, 8),
      commit: c.sha,
      date: c.date,
      text: await git(repo, ['show', `${c.sha}:${c.path}`]),
    });
    onProgress?.(items.length, commits.length);
  }
  return items;
}
