/**
 * `mpu replay` end to end, as a vendor runs it: on a real git repository built in the test from a
 * fixture history (one commit per version, with the fixture's dates), and on a fixture folder.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireFixtures } from '../helpers/fixtures.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const mpu = (args: string[]) =>
  run(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
  }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

const fixtures = requireFixtures();
const expected = (app: string) =>
  readFile(path.join(fixtures, 'expected.jsonl'), 'utf8').then((t) =>
    t
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { app: string; kind: string; bump: string; approval: string })
      .filter((e) => e.app === app),
  );

describe('mpu replay --git', () => {
  const app = 'jmigueprieto__ticket-linter';
  let repo: string;

  beforeAll(async () => {
    repo = await mkdtemp(path.join(tmpdir(), 'mpu-replay-'));
    const git = (...args: string[]) =>
      run('git', ['-C', repo, ...args], {
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@example.com',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@example.com',
        },
      });
    await git('init', '-q');
    const src = path.join(fixtures, 'connect', app);
    for (const name of (await readdir(src)).filter((n) => n.endsWith('.json')).sort()) {
      const date = `${name.split('_')[1]}T12:00:00Z`;
      await writeFile(path.join(repo, 'atlassian-connect.json'), await readFile(path.join(src, name)));
      await git('add', 'atlassian-connect.json');
      await run('git', ['-C', repo, 'commit', '-q', '-m', name], {
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@example.com',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@example.com',
          GIT_AUTHOR_DATE: date,
          GIT_COMMITTER_DATE: date,
        },
      });
    }
  });
  afterAll(async () => {
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  it('prints one timeline entry per commit, classified as labelled, with dates and commits', async () => {
    const r = await mpu(['replay', '--git', repo, '--file', 'atlassian-connect.json', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      timeline: Array<{ bump: string; approval: string; version: string; commit: string; date: string }>;
      summary: { versions: number; manual: number };
    };
    const labels = await expected(app);
    expect(out.timeline).toHaveLength(labels.length + 1);
    expect(out.timeline[0]).toMatchObject({ bump: 'initial', version: '1.0.0' });
    expect(out.timeline.slice(1).map((e) => [e.bump, e.approval])).toEqual(labels.map((l) => [l.bump, l.approval]));
    expect(out.timeline.every((e) => /^[0-9a-f]{40}$/.test(e.commit) && e.date.startsWith('20'))).toBe(true);
    expect(out.summary.manual).toBe(labels.filter((l) => l.approval === 'manual').length);
    expect(out.timeline.at(-1)!.version).toBe('2.1.3');
  });

  it('explains a missing --file and a path that is not a repository', async () => {
    const noFile = await mpu(['replay', '--git', repo]);
    expect(noFile.code).toBe(65);
    expect(noFile.stderr).toMatch(/--git needs --file/);
    const notRepo = await mpu(['replay', '--git', tmpdir(), '--file', 'x.json']);
    expect(notRepo.code).toBe(65);
    expect(notRepo.stderr).toMatch(/git log failed/);
  });
});

describe('mpu replay FOLDER and mpu diff', () => {
  it('reports an unparseable manifest as an error entry and carries on (robertmassaioli__ep-tool)', async () => {
    const r = await mpu(['replay', path.join(fixtures, 'forge', 'robertmassaioli__ep-tool'), '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      timeline: Array<{ status: string; error?: { message: string } }>;
      summary: { errors: number; latestVersion: string };
    };
    expect(out.summary.errors).toBe(1);
    const bad = out.timeline.find((e) => e.status === 'error')!;
    expect(bad.error!.message).toMatch(/invalid YAML/);
  });

  it("--installations simulates each version's rollout: automatic within 33 h of the change, manual never without approval", async () => {
    type Out = {
      rollouts: Array<{
        approval: string;
        reached: number;
        population: number;
        changedAt: number;
        p50At: number | null;
        p100At: number | null;
      }>;
    };
    const auto = await mpu([
      'replay',
      path.join(fixtures, 'connect', 'BrandNameSoftware__agile-smells'),
      '--installations',
      '2000',
      '--json',
    ]);
    expect(auto.code).toBe(0);
    const a = (JSON.parse(auto.stdout) as Out).rollouts;
    expect(a.length).toBeGreaterThan(3);
    for (const x of a.slice(1)) {
      expect(x).toMatchObject({ approval: 'automatic', reached: 2000, population: 2000 });
      expect(x.p100At! - x.changedAt).toBeLessThanOrEqual(33 * 3_600_000);
      expect(x.p50At!).toBeLessThan(x.p100At!);
    }
    const manual = await mpu([
      'replay',
      path.join(fixtures, 'connect', 'jmigueprieto__ticket-linter'),
      '--installations',
      '500',
      '--json',
    ]);
    const m = (JSON.parse(manual.stdout) as Out).rollouts;
    const firstManual = m.findIndex((x, i) => i > 0 && x.approval === 'manual');
    expect(firstManual).toBe(1);
    // Nobody approves in a simulation: the manual version and every later one reach no installation.
    expect(m.slice(firstManual).map((x) => x.reached)).toEqual(m.slice(firstManual).map(() => 0));
  });

  it('--approve-share S: that share of admins approves each manual version; a later approval covers an earlier one', async () => {
    type Out = { rollouts: Array<{ approval: string; reached: number; approved?: number; waitingOn: string | null }> };
    const dir = path.join(fixtures, 'connect', 'ZenUml__confluence-plugin-cloud');
    const r = await mpu(['replay', dir, '--installations', '2000', '--approve-share', '0.6', '--json']);
    expect(r.code).toBe(0);
    const rs = (JSON.parse(r.stdout) as Out).rollouts;
    const manual = rs.filter((x, i) => i > 0 && x.approval === 'manual');
    expect(manual.length).toBeGreaterThan(5);
    for (const x of manual) {
      expect(x.approved! / 2000).toBeGreaterThan(0.55);
      expect(x.approved! / 2000).toBeLessThan(0.65);
      // its own approvers, and those who approved a later version, have it
      expect(x.reached).toBeGreaterThanOrEqual(x.approved!);
    }
    expect(rs.at(-1)!.reached).toBe(manual.at(-1)!.approved); // the newest: exactly its approvers
    expect(rs.every((x) => x.reached > 0)).toBe(true);
    const text = await mpu(['replay', dir, '--installations', '2000', '--approve-share', '0.6']);
    expect(text.stdout).toMatch(
      /rollout: \d+ of 2000 installations \(50% [\d.]+ h, 99% never after the change; the others wait for approval of 1\.8\.0\)/,
    );
    const bad = await mpu(['replay', dir, '--installations', '10', '--approve-share', '1.5']);
    expect(bad.code).not.toBe(0); // commander's refusal of an option's value, as for --installations
    expect(bad.stderr).toMatch(/--approve-share must be a number from 0 to 1/);
  });

  it('mpu diff prints the bump, approval, next version and reasons in words', async () => {
    const dir = path.join(fixtures, 'connect', 'jmigueprieto__ticket-linter');
    const files = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
    const r = await mpu(['diff', path.join(dir, files[0]!), path.join(dir, files[1]!), '--from', '1.0.0']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^connect 1\.0\.0 -> 2\.0\.0: major, needs admin approval/);
    expect(r.stdout).toMatch(/apiVersion changed: 1 -> 2/);
  });

  it('mpu diff exits 65 with the file and position on a malformed descriptor', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mpu-diff-'));
    await writeFile(path.join(dir, 'a.json'), '{"key":"a"}');
    await writeFile(path.join(dir, 'b.json'), '{"key":"a",,}');
    const r = await mpu(['diff', path.join(dir, 'a.json'), path.join(dir, 'b.json')]);
    await rm(dir, { recursive: true, force: true });
    expect(r.code).toBe(65);
    expect(r.stderr).toMatch(/descriptor-invalid: .*b\.json: \$: invalid JSON at line 1/);
  });

  it('mpu diff exits 65 (descriptor-invalid, no stack trace) on a descriptor nested 3,000 levels deep', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mpu-diff-'));
    const deep = '{"":'.repeat(3000) + '1' + '}'.repeat(3000);
    await writeFile(path.join(dir, 'a.json'), '{"key":"a"}');
    await writeFile(path.join(dir, 'b.json'), `{"key":"a","modules":{"x":${deep}}}`);
    await writeFile(path.join(dir, 'c.yml'), `app:\n  id: a\nx: ${'['.repeat(3000)}1${']'.repeat(3000)}\n`);
    const r = await mpu(['diff', path.join(dir, 'a.json'), path.join(dir, 'b.json')]);
    const y = await mpu(['diff', path.join(dir, 'c.yml'), path.join(dir, 'c.yml')]);
    await rm(dir, { recursive: true, force: true });
    expect(r.code).toBe(65);
    expect(r.stderr).toMatch(
      /descriptor-invalid: .*b\.json: \$: nested deeper than 64 levels .* at line 1, column \d+/,
    );
    expect(r.stderr).not.toMatch(/RangeError|\n\s+at /);
    expect(y.code).toBe(65);
    expect(y.stderr).toMatch(/descriptor-invalid: .*c\.yml: \$: nested deeper than 64 levels/);
  });
});
