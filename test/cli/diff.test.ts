/**
 * `mpu diff OLD NEW` on a Forge manifest against a Connect descriptor says they are different
 * kinds instead of a parse error about the second file; a Connect descriptor against a Forge
 * manifest is the move to Forge, refused when the manifest does not adopt it (`app.connect.key`);
 * `--from` must be a version of the files' kind (Forge: major.minor.0).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffFiles } from '../../src/cli/commands/versioning.js';
import { exitCodeFor } from '../../src/lib/errors.js';
import { requireFixtures } from '../helpers/fixtures.js';

const fixtures = requireFixtures();
const connect = (n: string) => path.join(fixtures, 'connect', 'jmigueprieto__ticket-linter', n);
const forge = (n: string) => path.join(fixtures, 'forge', 'atlassian-labs__mermaid-diagrams-viewer', n);
const C1 = connect('001_2020-06-25_5b8d58bf.json');
const C2 = connect('002_2020-06-26_eaf2163d.json');
const F1 = forge('001_2023-02-16_4c027347.yml');
const F2 = forge('002_2023-02-16_a118c062.yml');

describe('mpu diff', () => {
  it.each([
    [C1, F1, 'descriptor-invalid', /app\.connect\.key: missing: the manifest does not name a Connect app/],
    [F1, C1, 'input-invalid', /is a forge manifest and .* a connect descriptor: a Forge app does not move back/],
  ])('%s against %s: refused (exit 65)', async (a, b, code, message) => {
    const err = await diffFiles(a, b, {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code, message: expect.stringMatching(message) });
    expect(exitCodeFor(err)).toBe(65);
  });

  it('files of one kind classify as before', async () => {
    expect(await diffFiles(C1, C2, {})).toMatchObject({ kind: 'connect', from: '1.0.0' });
    expect(await diffFiles(F1, F2, { from: '3.2.0' })).toMatchObject({ kind: 'forge', from: '3.2.0' });
  });

  it('a Forge --from must have patch 0; any --from must be a version', async () => {
    await expect(diffFiles(F1, F2, { from: '3.2.1' })).rejects.toMatchObject({
      code: 'input-invalid',
      message: expect.stringMatching(/Forge versions are major\.minor\.0 .*did you mean 3\.2\.0\?/),
    });
    await expect(diffFiles(C1, C2, { from: 'one' })).rejects.toMatchObject({ code: 'input-invalid' });
    await expect(diffFiles(C1, C2, { from: '1.2.3-beta' })).rejects.toMatchObject({ code: 'input-invalid' });
    expect((await diffFiles(C1, C2, { from: '1.2.3' })).from).toBe('1.2.3');
  });
});
