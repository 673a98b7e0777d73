import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/lib/errors.js';
import { detectKind, parseDescriptor } from '../../src/versioning/index.js';
import { MAX_DESCRIPTOR_DEPTH, findTooDeep, normalize, type Json } from '../../src/versioning/canonical.js';
import { diffDocuments, jsonEqual } from '../../src/versioning/diff.js';

/** `{"":{"":…1…}}`: `levels` nested objects (the root counts as one). */
const nested = (levels: number, inner = '1') => '{"":'.repeat(levels) + inner + '}'.repeat(levels);

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

  describe(`nesting deeper than ${MAX_DESCRIPTOR_DEPTH} levels is descriptor-invalid, at any depth, never a RangeError`, () => {
    it.each([65, 3000, 200_000])('Connect JSON and JSONC, %i levels', (levels) => {
      const json = `{"key":"deep","x":${nested(levels - 1)}}`;
      for (const text of [json, `// a comment\n${json}`, json.replace(/}$/, ',}')]) {
        const e = parseError(text);
        expect(e.code).toBe('descriptor-invalid');
        expect(e.message).toMatch(/nested deeper than 64 levels of objects and arrays at line \d+, column \d+/);
      }
    });

    it.each([65, 3000, 50_000])('Forge YAML (flow and block collections), %i levels', (levels) => {
      const flow = `app:\n  id: deep\nx: ${'['.repeat(levels)}1${']'.repeat(levels)}\n`;
      expect(parseError(flow, 'forge').message).toMatch(/nested deeper than 64 levels/);
      if (levels <= 3000) {
        const block = `app:\n  id: deep\n${Array.from({ length: levels }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')} 1\n`;
        expect(parseError(block, 'forge').message).toMatch(/nested deeper than 64 levels/);
      }
    });

    it('a recursive YAML alias is refused, not walked forever', () => {
      const e = parseError('app:\n  id: x\nloop: &a [ *a ]\n', 'forge');
      expect(e.code).toBe('descriptor-invalid');
    });

    it('64 levels are accepted, with the path of the first too-deep value otherwise', () => {
      expect(parseDescriptor(`{"key":"ok","x":${nested(63)}}`, { source: 'ok.json' }).appKey).toBe('ok');
      expect(findTooDeep(JSON.parse(nested(64)))).toBeNull();
      expect(findTooDeep(JSON.parse(nested(65)))).toBe('$' + '.'.repeat(64));
      expect(findTooDeep({ a: [{ b: [1] }] }, 3)).toBe('$.a[0].b');
    });

    it('canonicalisation and diff are bounded on values that did not come from parseDescriptor', () => {
      let deep: Json = 1;
      for (let i = 0; i < 5000; i++) deep = { a: deep };
      expect(() => normalize(deep)).toThrow(expect.objectContaining({ code: 'descriptor-invalid' }));
      let other: Json = 2;
      for (let i = 0; i < 5000; i++) other = { a: other };
      const changes = diffDocuments(deep, other);
      expect(changes).toHaveLength(1);
      expect(changes[0]!.path.split('.')).toHaveLength(MAX_DESCRIPTOR_DEPTH);
      expect(jsonEqual(deep, other)).toBe(false);
    });
  });
});
