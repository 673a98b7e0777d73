/**
 * The adoption verdict (DESIGN.md, "Connect to Forge adoption"): a table of moves, positive and
 * negative; the errors before any permission check; the shipped equivalence rows equal to
 * ../shared/connect-to-forge/scope-equivalences.tsv (read here, never copied); and properties:
 * a manifest of only the Connect scopes' own Forge forms is never an elevation, and adding any
 * UNMAPPED scope always is.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exitCodeFor } from '../../src/lib/errors.js';
import {
  SHIPPED_SCOPE_EQUIVALENCES,
  judgeAdoption,
  parsePolicy,
  type ConnectProduct,
} from '../../src/versioning/index.js';
import { FIXTURES_DIR } from '../helpers/fixtures.js';
import { connect, forge } from './helpers.js';

const KEY = 'com.example.notes';
const ARI = 'ari:cloud:ecosystem::app/11111111-2222-3333-4444-555555555555';
const descriptor = {
  key: KEY,
  baseUrl: 'https://notes.example.com',
  scopes: ['READ', 'WRITE'],
  modules: { jiraIssueGlances: [{ key: 'g', url: '/g' }] },
};
const manifest = {
  app: { id: ARI, connect: { key: KEY, remote: 'connect' } },
  remotes: [{ key: 'connect', baseUrl: 'https://notes.example.com' }],
  permissions: { scopes: ['read:jira-work'] },
};
type M = typeof manifest & Record<string, unknown>;
type D = typeof descriptor & Record<string, unknown>;

function judge(
  d: Record<string, unknown>,
  m: Record<string, unknown>,
  product?: ConnectProduct,
  policy = parsePolicy({}),
) {
  return judgeAdoption(connect(d), forge(m), policy, product ? { product, productBy: '--product' } : {});
}
const elevations = (v: ReturnType<typeof judge>) => v.reasons.filter((r) => r.approval === 'manual');

describe('the adoption verdict', () => {
  const cases: Array<[string, (m: M, d: D) => void, 'minor' | 'major', string[]]> = [
    ['read:jira-work (READ) with READ held: minor, automatic', () => {}, 'minor', []],
    [
      'manage:jira-webhook (WRITE) with WRITE held: covered',
      (m) => m.permissions.scopes.push('manage:jira-webhook'),
      'minor',
      [],
    ],
    [
      'write:jira-work (DELETE) with WRITE held: an elevation',
      (m) => m.permissions.scopes.push('write:jira-work'),
      'major',
      ['adoption.scope-elevation'],
    ],
    [
      'write:jira-work (DELETE) with ADMIN held: covered by the chain',
      (m, d) => {
        m.permissions.scopes.push('write:jira-work');
        d.scopes = ['ADMIN'];
      },
      'minor',
      [],
    ],
    [
      'an unknown scope: an elevation',
      (m) => m.permissions.scopes.push('read:me'),
      'major',
      ['adoption.scope-elevation'],
    ],
    [
      'a Confluence scope in a Jira app: an elevation',
      (m) => m.permissions.scopes.push('read:connect-confluence'),
      'major',
      ['adoption.scope-elevation'],
    ],
    [
      'absent Connect scopes mean READ: write:connect-jira is an elevation',
      (m, d) => {
        delete (d as Partial<D>).scopes;
        m.permissions.scopes.push('write:connect-jira');
      },
      'major',
      ['adoption.scope-elevation'],
    ],
    [
      'paid Connect, free Forge: licensing changed',
      (_m, d) => (d.enableLicensing = true),
      'major',
      ['adoption.licensing'],
    ],
    [
      'paid stays paid: allowed',
      (m, d) => {
        d.enableLicensing = true;
        m.app = { ...m.app, licensing: { enabled: true } } as M['app'];
      },
      'minor',
      [],
    ],
    [
      'the Connect baseUrl not kept as a remote: an elevation',
      (m) => (m.remotes = [{ key: 'connect', baseUrl: 'https://elsewhere.example.com' }]),
      'major',
      ['adoption.connect-remote'],
    ],
    [
      'an extra remote and ordinary egress: allowed',
      (m) => {
        m.remotes.push({ key: 'search', baseUrl: 'https://search.example.com' });
        m.permissions = {
          ...m.permissions,
          external: { fetch: { backend: ['https://api.example.com'] } },
        } as M['permissions'];
      },
      'minor',
      [],
    ],
    [
      'an auth provider added: an elevation',
      (m) => (m.providers = { auth: [{ key: 'github', name: 'GitHub' }] }),
      'major',
      ['adoption.auth-provider'],
    ],
  ];
  it.each(cases)('%s', (_name, change, bump, rules) => {
    const d = structuredClone(descriptor) as D;
    const m = structuredClone(manifest) as M;
    change(m, d);
    const v = judge(d, m);
    expect(v.kind).toBe('connect-to-forge');
    expect([v.bump, v.approval]).toEqual([bump, bump === 'minor' ? 'automatic' : 'manual']);
    expect([...new Set(elevations(v).map((r) => r.rule))]).toEqual(rules);
    expect(v.reasons[0]!.rule).toBe('adoption.move');
  });

  it('names the elevated scope and its Connect equivalent', () => {
    const v = judge(descriptor, {
      ...manifest,
      permissions: { scopes: ['write:jira-work', 'write:confluence-groups'] },
    });
    expect(elevations(v).map((r) => r.detail)).toEqual([
      expect.stringMatching(/^scope write:confluence-groups: a Confluence scope, and this is a Jira app/),
      expect.stringMatching(/^scope write:jira-work = Connect DELETE .*: not held \(Jira app holds READ, WRITE\)/),
    ]);
  });

  it('judges by the product: Confluence space-admin:connect-confluence is covered by ADMIN, UNMAPPED never', () => {
    const d = { ...descriptor, scopes: ['ADMIN'], modules: { dynamicContentMacros: [{ key: 'm', url: '/m' }] } };
    const ok = judge(d, { ...manifest, permissions: { scopes: ['space-admin:connect-confluence'] } });
    expect([ok.bump, ok.product.product, ok.product.source]).toEqual(['minor', 'confluence', 'modules']);
    const bad = judge(d, { ...manifest, permissions: { scopes: ['read:audit-log:confluence'] } });
    expect(elevations(bad).map((r) => r.detail)).toEqual([
      expect.stringMatching(/read:audit-log:confluence: UNMAPPED/),
    ]);
  });

  it('a policy file adds equivalence rows and may change the outcomes', () => {
    const policy = parsePolicy({
      adoption: {
        'scope-equivalences': [
          { product: 'jira', forgeScope: 'read:me', connectScope: 'READ', source: 'https://x.test' },
        ],
        elevation: { bump: 'major', approval: 'manual' },
      },
    });
    const v = judge(descriptor, { ...manifest, permissions: { scopes: ['read:me'] } }, undefined, policy);
    expect([v.bump, v.approval]).toEqual(['minor', 'automatic']);
  });

  it.each([
    [{ app: { id: ARI } }, /app\.connect\.key: missing/],
    [{ app: { id: ARI, connect: { key: 'com.example.other' } } }, /names Connect app "com\.example\.other", but/],
  ])('a manifest that does not adopt the app is descriptor-invalid (exit 65) before any check', (app, message) => {
    // Its scopes would be elevations: the error comes first.
    const m = { ...manifest, ...app, permissions: { scopes: ['read:me'] } };
    const err = (() => {
      try {
        judge(descriptor, m);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toMatchObject({ code: 'descriptor-invalid', message: expect.stringMatching(message) });
    expect(exitCodeFor(err)).toBe(65);
  });
});

describe('the shipped equivalence rows', () => {
  const tsv = path.resolve(FIXTURES_DIR, '../../connect-to-forge/scope-equivalences.tsv');
  it('equal the rows of ../shared/connect-to-forge/scope-equivalences.tsv', () => {
    if (!existsSync(tsv))
      throw new Error(`${tsv} not found: put ../shared beside the checkout or set MPU_FIXTURES_DIR`);
    const rows = readFileSync(tsv, 'utf8')
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'))
      .slice(1)
      .map((l) => l.split('\t'))
      .map(([product, forgeScope, connectScope, source]) => ({ product, forgeScope, connectScope, source }));
    expect(SHIPPED_SCOPE_EQUIVALENCES).toEqual(rows);
  });
});

describe('adoption properties', () => {
  const jiraForms = ['read', 'write', 'delete', 'project-admin', 'admin', 'act-as-user', 'access-email-addresses'];
  const toConnect = (f: string) => f.toUpperCase().replace(/-/g, '_');
  const unmapped = SHIPPED_SCOPE_EQUIVALENCES.filter((r) => r.connectScope === 'UNMAPPED');

  it('a manifest made only of the Connect scopes’ own Forge forms is never an elevation', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<ConnectProduct>('jira', 'confluence'),
        fc.subarray(jiraForms, { minLength: 1 }),
        (product, forms) => {
          const names = forms.map((f) => (product === 'confluence' && f === 'project-admin' ? 'space-admin' : f));
          const d = { ...descriptor, scopes: names.map(toConnect) };
          const m = { ...manifest, permissions: { scopes: names.map((n) => `${n}:connect-${product}`) } };
          const v = judge(d, m, product);
          expect(elevations(v)).toEqual([]);
          expect([v.bump, v.approval]).toEqual(['minor', 'automatic']);
        },
      ),
    );
  });

  it('adding any UNMAPPED scope always is one', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...unmapped),
        fc.subarray(jiraForms),
        fc.constantFrom<ConnectProduct>('jira', 'confluence', 'bitbucket'),
        (row, forms, product) => {
          const d = { ...descriptor, scopes: forms.map(toConnect).concat(['ADMIN']) };
          const scopes = forms.map((f) => `${f}:connect-${product}`).concat([row.forgeScope]);
          const v = judge(d, { ...manifest, permissions: { scopes } }, product);
          expect([v.bump, v.approval]).toEqual(['major', 'manual']);
          expect(elevations(v).some((r) => r.detail.startsWith(`scope ${row.forgeScope}:`))).toBe(true);
        },
      ),
    );
  });
});
