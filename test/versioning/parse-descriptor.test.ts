import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/lib/errors.js';
import { detectKind, parseDescriptor } from '../../src/versioning/index.js';

function parseError(text: string, kind?: 'connect' | 'forge'): AppError {
  try {
    parseDescriptor(text, { source: 'x/atlassian-connect.json', kind });
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected a parse error');
}

describe('parseDescriptor', () => {
  it('accepts JavaScript comments, trailing commas and template placeholders in Connect descriptors', () => {
    const d = parseDescriptor(
      '{\n  // the key\n  "key": "app", /* base */ "baseUrl": "{{localBaseUrl}}",\n  "scopes": ["READ",],\n}',
      { source: 'a.json' },
    );
    expect(d.kind).toBe('connect');
    expect(d.appKey).toBe('app');
    expect(d.document.baseUrl).toBe('{{localBaseUrl}}');
  });

  it('names the source, line and column of invalid JSON', () => {
    const e = parseError('{\n  "key": "app"\n  "name": "x"\n}');
    expect(e.code).toBe('descriptor-invalid');
    expect(e.message).toMatch(/^x\/atlassian-connect\.json: \$: invalid JSON at line 3, column 3/);
    expect(e.details).toMatchObject({ source: 'x/atlassian-connect.json', line: 3, column: 3 });
  });

  it('names the JSON path of a field of the wrong type', () => {
    const e = parseError('{"key": "app", "scopes": ["READ", 7]}');
    expect(e.details?.path).toBe('scopes[1]');
    const e2 = parseError('{"key": "app", "enableLicensing": "yes"}');
    expect(e2.details?.path).toBe('enableLicensing');
  });

  it('refuses a forgeAppId that is not an app ARI (seed 002)', () => {
    expect(parseError('{"key":"a","forgeAppId":"my-app"}').details?.path).toBe('forgeAppId');
    const ok = parseDescriptor(
      '{"key":"a","forgeAppId":"ari:cloud:ecosystem::app/11111111-2222-3333-4444-555555555555"}',
      { source: 'a.json' },
    );
    expect(ok.document.forgeAppId).toMatch(/^ari:/);
  });

  it('refuses a document that is not an object', () => {
    expect(parseError('[1,2]').message).toMatch(/must be an object, got an array/);
    expect(parseError('- a\n- b\n', 'forge').message).toMatch(/must be an object/);
  });

  it('reports invalid YAML with its line', () => {
    const e = parseError('app:\n  id: x\n function:\n  - key: a\n', 'forge');
    expect(e.code).toBe('descriptor-invalid');
    expect(e.message).toMatch(/invalid YAML at line \d+/);
  });

  it('hashes the canonical form: whitespace and key order are no change', () => {
    const a = parseDescriptor('{"key":"a","name":"n"}', { source: 'a.json' });
    const b = parseDescriptor('{\n  "name": "n",\n  "key": "a"\n}\n', { source: 'b.json' });
    expect(a.hash).toBe(b.hash);
    expect(a.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('detects the kind from the file name, then the text', () => {
    expect(detectKind('{}', 'manifest.yml')).toBe('forge');
    expect(detectKind('app:\n  id: x', 'atlassian-connect.json')).toBe('connect');
    expect(detectKind('  // c\n{}')).toBe('connect');
    expect(detectKind('app:\n  id: x')).toBe('forge');
  });
});
