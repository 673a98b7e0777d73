import { describe, expect, it } from 'vitest';
import { classifyChange, parsePolicy } from '../../src/versioning/index.js';
import { baseConnect, baseForge, connect, forge, withChange } from './helpers.js';

type C = typeof baseConnect & Record<string, unknown>;
type F = typeof baseForge & Record<string, unknown>;

const rulesOf = (r: { reasons: { rule: string }[] }) => r.reasons.map((x) => x.rule);

describe('Connect rules (DESIGN.md, Connect table)', () => {
  const cases: Array<[string, (d: C) => void, string, string, string[]]> = [
    ['apiVersion 1 -> 2 is major, manual', (d) => (d.apiVersion = 2), 'major', 'manual', ['connect.api-version']],
    [
      'apiVersion absent -> 1 is no apiVersion change (absent means 1)',
      (d) => (d.apiVersion = 1),
      'micro',
      'automatic',
      ['connect.other'],
    ],
    [
      'apiVersion "2" -> 2 spelled differently is no apiVersion change',
      (d) => (d.apiVersion = '1'),
      'micro',
      'automatic',
      ['connect.other'],
    ],
    [
      'scope READ -> WRITE is minor, manual',
      (d) => (d.scopes = ['READ', 'WRITE']),
      'minor',
      'manual',
      ['connect.scope-increase'],
    ],
    [
      'ACT_AS_USER stands alone: added is an increase',
      (d) => (d.scopes = ['READ', 'ACT_AS_USER']),
      'minor',
      'manual',
      ['connect.scope-increase'],
    ],
    [
      'an unknown scope is an increase (default-deny)',
      (d) => (d.scopes = ['READ', 'MANAGE_EVERYTHING']),
      'minor',
      'manual',
      ['connect.scope-increase'],
    ],
    ['removing a scope is micro, automatic', (d) => (d.scopes = []), 'micro', 'automatic', ['connect.other']],
    ['free -> paid is minor, manual', (d) => (d.enableLicensing = true), 'minor', 'manual', ['connect.free-to-paid']],
    [
      'baseUrl changed is minor, manual',
      (d) => (d.baseUrl = 'https://new.example.com'),
      'minor',
      'manual',
      ['connect.base-url'],
    ],
    [
      'a module added is micro, automatic',
      (d) => d.modules.webPanels.push({ key: 'panel-b', url: '/b', location: 'x' }),
      'micro',
      'automatic',
      ['connect.other'],
    ],
    ['blockInstall set is micro, automatic', (d) => (d.blockInstall = true), 'micro', 'automatic', ['connect.other']],
    [
      'forgeAppLink added is micro, automatic',
      (d) => (d.forgeAppLink = 'https://developer.atlassian.com/console/install/x?signature=1'),
      'micro',
      'automatic',
      ['connect.other'],
    ],
  ];
  it.each(cases)('%s', (_name, change, bump, approval, rules) => {
    const c = classifyChange(connect(baseConnect), connect(withChange(baseConnect as C, change)));
    expect(c.bump).toBe(bump);
    expect(c.approval).toBe(approval);
    expect(rulesOf(c)).toEqual(rules);
  });

  it('absent scopes mean READ: adding READ explicitly is no increase, WRITE is', () => {
    const noScopes = withChange(baseConnect as C, (d) => delete (d as Partial<C>).scopes);
    expect(
      classifyChange(connect(noScopes), connect(withChange(noScopes, (d) => (d.scopes = ['READ'])))).approval,
    ).toBe('automatic');
    expect(classifyChange(connect(noScopes), connect(withChange(noScopes, (d) => (d.scopes = ['WRITE'])))).bump).toBe(
      'minor',
    );
  });

  it.each([
    [['ADMIN'], ['ADMIN', 'READ', 'WRITE', 'DELETE', 'PROJECT_ADMIN']],
    [['DELETE'], ['WRITE', 'READ']],
    [['write'], ['READ']],
  ])('a scope implied by the old set (%j -> %j) is no increase', (before, after) => {
    const c = classifyChange(connect({ ...baseConnect, scopes: before }), connect({ ...baseConnect, scopes: after }));
    expect(rulesOf(c)).not.toContain('connect.scope-increase');
  });

  it('paid -> free is micro, automatic', () => {
    const paid = { ...baseConnect, enableLicensing: true };
    const c = classifyChange(connect(paid), connect({ ...paid, enableLicensing: false }));
    expect([c.bump, c.approval]).toEqual(['micro', 'automatic']);
  });

  it('reasons name rule, path and words; the largest bump wins and any manual reason makes it manual', () => {
    const c = classifyChange(
      connect(baseConnect),
      connect({ ...baseConnect, apiVersion: 2, scopes: ['WRITE'], name: 'Renamed' }),
    );
    expect(c.bump).toBe('major');
    expect(c.approval).toBe('manual');
    expect(c.reasons).toContainEqual({
      rule: 'connect.scope-increase',
      bump: 'minor',
      approval: 'manual',
      path: 'scopes',
      detail: 'scope added: WRITE (product: Jira, by default (no product given and no module type names one))',
    });
    expect(c.reasons.find((r) => r.rule === 'connect.other')?.detail).toBe('other change: name');
  });

  it('module reordering and whitespace are no change', () => {
    const two = withChange(baseConnect as C, (d) =>
      d.modules.webPanels.push({ key: 'panel-b', url: '/b', location: 'x' }),
    );
    const reordered = withChange(two, (d) => d.modules.webPanels.reverse());
    const c = classifyChange(connect(two), connect(reordered));
    expect(c.bump).toBe('none');
    expect(c.reasons).toEqual([]);
  });

  it('a changed app key is a warning, and the rest is classified', () => {
    const c = classifyChange(connect(baseConnect), connect({ ...baseConnect, key: 'com.example.app-dev' }));
    expect(c.warnings.map((w) => w.code)).toEqual(['app-key-changed']);
    expect(c.bump).toBe('micro');
  });
});

describe('Forge rules (DESIGN.md, Forge table)', () => {
  const cases: Array<[string, (d: F) => void, string, string, string[]]> = [
    [
      'scope added is major',
      (d) => d.permissions.scopes.push('write:jira-work'),
      'major',
      'manual',
      ['forge.scope-added'],
    ],
    ['scope removed is major', (d) => (d.permissions.scopes = []), 'major', 'manual', ['forge.scope-removed']],
    [
      'egress added is major',
      (d) => d.permissions.external.fetch.backend.push('https://other.example.com'),
      'major',
      'manual',
      ['forge.egress-added'],
    ],
    [
      'egress removed is major',
      (d) => (d.permissions.external.fetch.backend = []),
      'major',
      'manual',
      ['forge.egress-removed'],
    ],
    [
      'image egress added is major',
      (d) => ((d.permissions.external as Record<string, unknown>).images = ['*.example.com']),
      'major',
      'manual',
      ['forge.egress-added'],
    ],
    [
      'content (CSP) changed is major',
      (d) => (d.permissions.content.styles = []),
      'major',
      'manual',
      ['forge.content'],
    ],
    [
      'licensing changed is major',
      (d) => ((d.app as Record<string, unknown>).licensing = { enabled: true }),
      'major',
      'manual',
      ['forge.licensing'],
    ],
    [
      'auth provider added is major',
      (d) => d.providers.auth.push({ key: 'gitlab', clientId: 'x', name: 'GitLab' }),
      'major',
      'manual',
      ['forge.auth-provider'],
    ],
    ['auth provider removed is major', (d) => (d.providers.auth = []), 'major', 'manual', ['forge.auth-provider']],
    [
      'auth provider client id changed is major',
      (d) => (d.providers.auth[0]!.clientId = 'def'),
      'major',
      'manual',
      ['forge.auth-provider'],
    ],
    [
      'auth provider renamed only is minor',
      (d) => (d.providers.auth[0]!.name = 'GitHub Cloud'),
      'minor',
      'automatic',
      ['forge.other'],
    ],
    [
      'remote added is major',
      (d) => d.remotes.push({ key: 'second', baseUrl: 'https://two.example.com' }),
      'major',
      'manual',
      ['forge.remote-added'],
    ],
    [
      'remote baseUrl changed is major',
      (d) => (d.remotes[0]!.baseUrl = 'https://moved.example.com'),
      'major',
      'manual',
      ['forge.remote-base-url'],
    ],
    ['remote removed is minor', (d) => (d.remotes = []), 'minor', 'automatic', ['forge.other']],
    [
      'sql module added is major',
      (d) => ((d.modules as Record<string, unknown>).sql = [{ key: 'db', engine: 'mysql' }]),
      'major',
      'manual',
      ['forge.sql-module'],
    ],
    [
      'a module changed is minor, automatic',
      (d) => (d.modules['jira:issuePanel'][0]!.title = 'New title'),
      'minor',
      'automatic',
      ['forge.other'],
    ],
  ];
  it.each(cases)('%s', (_name, change, bump, approval, rules) => {
    const c = classifyChange(forge(baseForge), forge(withChange(baseForge as F, change)));
    expect(c.bump).toBe(bump);
    expect(c.approval).toBe(approval);
    expect(rulesOf(c)).toEqual(rules);
  });

  it('egress written as {address} is the same entry as the plain string', () => {
    const asObject = withChange(
      baseForge as F,
      (d) =>
        ((d.permissions.external.fetch as Record<string, unknown>).backend = [
          { address: 'https://api.example.com', category: 'analytics' },
        ]),
    );
    const c = classifyChange(forge(baseForge), forge(asObject));
    expect(rulesOf(c)).toEqual(['forge.other']);
  });

  it('scope order is no change', () => {
    const two = withChange(baseForge as F, (d) => d.permissions.scopes.push('storage:app'));
    expect(classifyChange(forge(two), forge(withChange(two, (d) => d.permissions.scopes.reverse()))).bump).toBe('none');
  });

  it('a policy can make removals automatic minors', () => {
    const policy = parsePolicy({
      forge: {
        scopeRemoved: { bump: 'minor', approval: 'automatic' },
        egressRemoved: { bump: 'minor', approval: 'automatic' },
      },
    });
    const c = classifyChange(
      forge(baseForge),
      forge(withChange(baseForge as F, (d) => (d.permissions.scopes = []))),
      policy,
    );
    expect([c.bump, c.approval]).toEqual(['minor', 'automatic']);
    expect(rulesOf(c)).toEqual(['forge.scope-removed']);
  });

  it('a disabled rule lets its change fall to other', () => {
    const policy = parsePolicy({ forge: { content: { enabled: false } } });
    const c = classifyChange(
      forge(baseForge),
      forge(withChange(baseForge as F, (d) => (d.permissions.content.styles = []))),
      policy,
    );
    expect(rulesOf(c)).toEqual(['forge.other']);
  });
});
