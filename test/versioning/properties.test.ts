import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/lib/errors.js';
import { canonicalJson } from '../../src/versioning/canonical.js';
import { classifyChange, parseDescriptor } from '../../src/versioning/index.js';

/** Shuffles object keys recursively (arrays keep their order). */
function shuffleKeys(v: unknown, rnd: () => number): unknown {
  if (Array.isArray(v)) return v.map((x) => shuffleKeys(x, rnd));
  if (typeof v === 'object' && v !== null) {
    const entries = Object.entries(v).sort(() => rnd() - 0.5);
    return Object.fromEntries(entries.map(([k, x]) => [k, shuffleKeys(x, rnd)]));
  }
  return v;
}

const connectLike = fc.record(
  {
    key: fc.string(),
    baseUrl: fc.webUrl(),
    apiVersion: fc.integer({ min: 1, max: 3 }),
    scopes: fc.subarray(['READ', 'WRITE', 'DELETE', 'PROJECT_ADMIN', 'ADMIN', 'ACT_AS_USER', 'ACCESS_EMAIL_ADDRESSES']),
    enableLicensing: fc.boolean(),
    modules: fc.dictionary(
      fc.string({ minLength: 1, maxLength: 8 }),
      fc.array(fc.record({ key: fc.string({ minLength: 1 }), url: fc.string() }), { maxLength: 3 }),
    ),
    extra: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

describe('properties', () => {
  it('classify(x, x) is none, for any descriptor', () => {
    fc.assert(
      fc.property(connectLike, (doc) => {
        const p = parseDescriptor(JSON.stringify(doc), { source: 'p.json', kind: 'connect' });
        const c = classifyChange(
          p,
          parseDescriptor(JSON.stringify(doc, null, 2), { source: 'q.json', kind: 'connect' }),
        );
        expect(c.bump).toBe('none');
        expect(c.reasons).toEqual([]);
      }),
    );
  });

  it('key reordering never changes the hash', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer(), (v, seed) => {
        let s = seed;
        const rnd = () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
        expect(canonicalJson(shuffleKeys(v, rnd))).toBe(canonicalJson(v));
        const doc = { key: 'k', data: v };
        const a = parseDescriptor(JSON.stringify(doc), { source: 'a.json', kind: 'connect' });
        const b = parseDescriptor(JSON.stringify(shuffleKeys(doc, rnd)), { source: 'b.json', kind: 'connect' });
        expect(b.hash).toBe(a.hash);
      }),
    );
  });

  it('no input makes parse or classify throw anything but the typed error', () => {
    const anyDoc = fc.oneof(
      fc.jsonValue(),
      connectLike,
      fc.dictionary(
        fc.constantFrom(
          'key',
          'scopes',
          'apiVersion',
          'baseUrl',
          'enableLicensing',
          'modules',
          'app',
          'permissions',
          'remotes',
          'providers',
        ),
        fc.jsonValue(),
      ),
    );
    fc.assert(
      fc.property(
        anyDoc,
        anyDoc,
        fc.constantFrom('connect' as const, 'forge' as const),
        fc.boolean(),
        (x, y, kind, asText) => {
          const text = (v: unknown) => (asText ? String(JSON.stringify(v)).slice(0, 40) : (JSON.stringify(v) ?? ''));
          try {
            const a = parseDescriptor(text(x), { source: 'a', kind });
            const b = parseDescriptor(text(y), { source: 'b', kind });
            const c = classifyChange(a, b);
            expect(['major', 'minor', 'micro', 'none']).toContain(c.bump);
          } catch (err) {
            expect(err).toBeInstanceOf(AppError);
            expect((err as AppError).code).toBe('descriptor-invalid');
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
