/**
 * Connect scope rules per product (DESIGN.md, "Connect scopes differ by product"): each product's
 * implication chain and absent-scopes meaning, positive and negative, the product given or
 * inferred from module types (and named in the reasons), and a policy file's product rules.
 */
import { describe, expect, it } from 'vitest';
import { classifyChange, parsePolicy, type ConnectProduct } from '../../src/versioning/index.js';
import { chooseProduct } from '../../src/versioning/connect-products.js';
import { connect } from './helpers.js';

const base = { key: 'com.example.app', baseUrl: 'https://app.example.com', modules: {} };
const doc = (scopes: string[] | undefined) => (scopes === undefined ? { ...base } : { ...base, scopes });

/** Verdict of old scopes → new scopes for `product` (given): whether it is a scope increase. */
function increase(product: ConnectProduct, before: string[] | undefined, after: string[] | undefined): boolean {
  const c = classifyChange(connect(doc(before)), connect(doc(after)), undefined, { product, productBy: '--product' });
  return c.reasons.some((r) => r.rule === 'connect.scope-increase');
}

type Case = [string, ConnectProduct, string[] | undefined, string[] | undefined, boolean];
const cases: Case[] = [
  // Jira: READ < WRITE < DELETE < PROJECT_ADMIN < ADMIN; stand-alone ACT_AS_USER; absent = READ.
  ['Jira: READ -> WRITE is an increase', 'jira', ['READ'], ['WRITE'], true],
  ['Jira: ADMIN -> ADMIN, PROJECT_ADMIN is none', 'jira', ['ADMIN'], ['ADMIN', 'PROJECT_ADMIN'], false],
  ['Jira: SPACE_ADMIN is unknown to Jira: an increase', 'jira', ['ADMIN'], ['ADMIN', 'SPACE_ADMIN'], true],
  ['Jira: absent -> READ is none (absent means READ)', 'jira', undefined, ['READ'], false],
  ['Jira: absent -> WRITE is an increase', 'jira', undefined, ['WRITE'], true],
  ['Jira: ADMIN -> ACT_AS_USER is an increase (stand-alone)', 'jira', ['ADMIN'], ['ADMIN', 'ACT_AS_USER'], true],
  // Confluence: READ < WRITE < DELETE < SPACE_ADMIN < ADMIN; absent = READ.
  ['Confluence: ADMIN adding SPACE_ADMIN is none', 'confluence', ['ADMIN'], ['ADMIN', 'SPACE_ADMIN'], false],
  ['Confluence: SPACE_ADMIN adding WRITE is none', 'confluence', ['SPACE_ADMIN'], ['SPACE_ADMIN', 'WRITE'], false],
  ['Confluence: DELETE -> SPACE_ADMIN is an increase', 'confluence', ['DELETE'], ['SPACE_ADMIN'], true],
  ['Confluence: SPACE_ADMIN -> ADMIN is an increase', 'confluence', ['SPACE_ADMIN'], ['ADMIN'], true],
  ['Confluence: PROJECT_ADMIN is unknown: an increase', 'confluence', ['ADMIN'], ['ADMIN', 'PROJECT_ADMIN'], true],
  ['Confluence: absent -> READ is none', 'confluence', undefined, ['read'], false],
  ['Confluence: ADMIN -> ACT_AS_USER is an increase', 'confluence', ['ADMIN'], ['ACT_AS_USER'], true],
  // Bitbucket: absent = every scope; repository:write implies repository; pullrequest implies repository.
  [
    'Bitbucket: absent -> a scopes list is none (a reduction)',
    'bitbucket',
    undefined,
    ['account', 'repository'],
    false,
  ],
  ['Bitbucket: a list -> absent is an increase (every scope)', 'bitbucket', ['repository'], undefined, true],
  ['Bitbucket: absent -> absent is none', 'bitbucket', undefined, undefined, false],
  [
    'Bitbucket: repository:write adding repository is none',
    'bitbucket',
    ['repository:write'],
    ['repository:write', 'repository'],
    false,
  ],
  [
    'Bitbucket: pullrequest adding repository is none',
    'bitbucket',
    ['pullrequest'],
    ['pullrequest', 'repository'],
    false,
  ],
  [
    'Bitbucket: repository:admin does not imply repository',
    'bitbucket',
    ['repository:admin'],
    ['repository:admin', 'repository'],
    true,
  ],
  [
    'Bitbucket: repository:admin does not imply repository:write',
    'bitbucket',
    ['repository:admin'],
    ['repository:write'],
    true,
  ],
  ['Bitbucket: repository does not imply repository:write', 'bitbucket', ['repository'], ['repository:write'], true],
  ['Bitbucket: account -> account, webhook is an increase', 'bitbucket', ['account'], ['account', 'webhook'], true],
];

describe('Connect scope rules per product', () => {
  it.each(cases)('%s', (_name, product, before, after, expected) => {
    expect(increase(product, before, after)).toBe(expected);
  });

  it('names the product and where it came from in the scope reasons and the result', () => {
    const c = classifyChange(connect(doc(['READ'])), connect(doc(['WRITE'])), undefined, {
      product: 'confluence',
      productBy: '--product',
    });
    expect(c.reasons.map((r) => r.detail)).toEqual(['scope added: WRITE (product: Confluence (--product))']);
    expect(c.product).toMatchObject({ product: 'confluence', source: 'given' });
    const bb = classifyChange(connect(doc(['repository'])), connect(doc(undefined)), undefined, {
      product: 'bitbucket',
    });
    expect(bb.reasons[0]!.detail).toMatch(/^scopes removed: without a scopes list a Bitbucket app holds every scope/);
  });
});

describe('the product inferred from module types', () => {
  const withModules = (modules: Record<string, unknown>, scopes?: string[]) => ({ ...base, modules, scopes });
  it.each([
    [{ dynamicContentMacros: [] }, undefined, 'confluence', 'modules'],
    [{ jiraIssueGlances: [], webItems: [] }, undefined, 'jira', 'modules'],
    [{ repoPages: [] }, undefined, 'bitbucket', 'modules'],
    [{ webhooks: [] }, ['account', 'repository', 'pullrequest'], 'bitbucket', 'scopes'],
    [{ generalPages: [] }, ['READ'], 'jira', 'default'],
    [{ jiraIssueGlances: [], dynamicContentMacros: [] }, undefined, 'jira', 'default'],
  ] as const)('%j (scopes %j) -> %s (%s)', (modules, scopes, product, source) => {
    const choice = chooseProduct(withModules(modules, scopes as string[] | undefined));
    expect(choice).toMatchObject({ product, source });
  });

  it('a Confluence app inferred from its macros: ADMIN adding SPACE_ADMIN is automatic', () => {
    const a = { ...base, scopes: ['ADMIN'], modules: { dynamicContentMacros: [{ key: 'm', url: '/m' }] } };
    const c = classifyChange(connect(a), connect({ ...a, scopes: ['ADMIN', 'SPACE_ADMIN'] }));
    expect([c.bump, c.approval]).toEqual(['micro', 'automatic']);
    expect(c.product?.detail).toBe('Confluence, inferred from module types: dynamicContentMacros');
    const w = classifyChange(connect(a), connect({ ...a, scopes: ['ACT_AS_USER'] }));
    expect(w.reasons[0]!.detail).toBe(
      'scope added: ACT_AS_USER (product: Confluence, inferred from module types: dynamicContentMacros)',
    );
  });

  it('the given product wins over the modules', () => {
    expect(chooseProduct({ ...base, modules: { jiraIssueGlances: [] } }, 'confluence', 'registration')).toEqual({
      product: 'confluence',
      source: 'given',
      detail: 'Confluence (registration)',
    });
  });
});

describe('product rules in a policy file', () => {
  it('overrides one product and keeps the others; the older scope-hierarchy key sets Jira', () => {
    const p = parsePolicy({
      connect: {
        products: { bitbucket: { implies: { 'repository:admin': ['repository:write'] } } },
        'scope-hierarchy': ['READ', 'ADMIN'],
      },
    });
    expect(p.connect.products.bitbucket.implies).toEqual({ 'repository:admin': ['repository:write'] });
    expect(p.connect.products.bitbucket.absent).toBe('all');
    expect(p.connect.products.jira.chain).toEqual(['READ', 'ADMIN']);
    expect(p.connect.products.confluence.chain).toContain('SPACE_ADMIN');
    const c = classifyChange(connect(doc(['repository:admin'])), connect(doc(['repository:write'])), p, {
      product: 'bitbucket',
    });
    expect(c.approval).toBe('automatic');
  });

  it('refuses an unknown product', () => {
    expect(() => parsePolicy({ connect: { products: { trello: {} } } })).toThrow(/policy/);
  });
});
