/**
 * Replay across the move from Connect to Forge: a git repository (made here with `git init`)
 * whose history has a Connect descriptor, then the Forge manifest adopting it; and a folder
 * holding both kinds. The adoption step comes between the last Connect version and the first
 * Forge version, then Forge versions follow Forge rules.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readFolderHistory, readGitHistory } from '../../src/replay/read-history.js';
import { replayMove } from '../../src/versioning/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'mpu-move-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KEY = 'com.example.move';
const connectV = (scopes: string[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    key: KEY,
    baseUrl: 'https://move.example.com',
    scopes,
    modules: { jiraIssueGlances: [] },
    ...extra,
  });
const manifestV = (scopes: string[], key = KEY) =>
  [
    'app:',
    '  id: ari:cloud:ecosystem::app/11111111-2222-3333-4444-555555555555',
    '  connect:',
    `    key: ${key}`,
    '    remote: connect',
    'remotes:',
    '  - key: connect',
    '    baseUrl: https://move.example.com',
    'permissions:',
    '  scopes:',
    ...scopes.map((s) => `    - ${s}`),
    '',
  ].join('\n');

function git(repo: string, ...args: string[]): void {
  execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    stdio: 'ignore',
  });
}

describe('replay across the move', () => {
  it('a git history of atlassian-connect.json then manifest.yml', async () => {
    const repo = path.join(dir, 'repo');
    execFileSync('git', ['init', '-q', repo]);
    const commit = (file: string, text: string, msg: string) => {
      writeFileSync(path.join(repo, file), text);
      git(repo, 'add', file);
      git(repo, 'commit', '-q', '-m', msg);
    };
    commit('atlassian-connect.json', connectV(['READ']), 'c1');
    commit('atlassian-connect.json', connectV(['READ', 'WRITE']), 'c2');
    commit('manifest.yml', manifestV(['read:jira-work', 'write:connect-jira']), 'f1');
    commit('manifest.yml', manifestV(['read:jira-work', 'write:connect-jira', 'write:jira-work']), 'f2');
    const connect = await readGitHistory(repo, 'atlassian-connect.json');
    const forge = await readGitHistory(repo, 'manifest.yml');
    const r = replayMove(connect, forge);
    expect(r.kind).toBe('connect-to-forge');
    expect(r.timeline.map((e) => [e.kind, e.version, e.bump, e.approval, e.step])).toEqual([
      ['connect', '1.0.0', 'initial', 'automatic', undefined],
      ['connect', '1.1.0', 'minor', 'manual', undefined],
      ['forge', '1.2.0', 'minor', 'automatic', 'adoption'],
      ['forge', '2.0.0', 'major', 'manual', undefined],
    ]);
    expect(r.timeline[3]!.reasons.map((x) => x.rule)).toEqual(['forge.scope-added']);
    expect(r.summary.latestVersion).toBe('2.0.0');
  });

  it('a folder holding both kinds; an elevated move is major', async () => {
    const folder = path.join(dir, 'folder');
    execFileSync('mkdir', ['-p', folder]);
    writeFileSync(path.join(folder, '001_atlassian-connect.json'), connectV(['READ']));
    writeFileSync(path.join(folder, '002_manifest.yml'), 'app: [broken');
    writeFileSync(path.join(folder, '003_manifest.yml'), manifestV(['write:connect-jira']));
    writeFileSync(path.join(folder, '004_manifest.yml'), manifestV(['write:connect-jira']) + '# code only\n');
    const items = await readFolderHistory(folder);
    const r = replayMove(
      items.filter((i) => i.label.endsWith('.json')),
      items.filter((i) => !i.label.endsWith('.json')),
    );
    expect(r.timeline.map((e) => [e.status, e.version, e.bump, e.step])).toEqual([
      ['version', '1.0.0', 'initial', undefined],
      ['error', '1.0.0', 'error', undefined],
      ['version', '2.0.0', 'major', 'adoption'],
      ['unchanged', '2.0.0', 'none', undefined],
    ]);
    expect(r.timeline[2]!.reasons.filter((x) => x.approval === 'manual').map((x) => x.detail)).toEqual([
      expect.stringMatching(/^scope write:connect-jira = Connect WRITE .*: not held/),
    ]);
  });

  it('a Forge manifest naming another Connect app is descriptor-invalid', () => {
    const c = [{ label: 'a.json', text: connectV(['READ']) }];
    const f = [{ label: 'm.yml', text: manifestV(['read:jira-work'], 'com.example.other') }];
    expect(() => replayMove(c, f)).toThrow(expect.objectContaining({ code: 'descriptor-invalid' }));
  });
});
