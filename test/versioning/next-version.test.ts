import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/lib/errors.js';
import { checkBulkUpgrade, nextVersion, parsePolicy } from '../../src/versioning/index.js';
import { baseForge, forge, withChange } from './helpers.js';

describe('nextVersion', () => {
  it.each([
    ['connect', null, 'micro', '1.0.0'],
    ['forge', null, 'minor', '2.0.0'],
    ['connect', '1.0.0', 'micro', '1.0.1'],
    ['connect', '1.0.7', 'minor', '1.1.0'],
    ['connect', '1.4.7', 'major', '2.0.0'],
    ['connect', '1.4.7', 'none', '1.4.7'],
    ['forge', '2.0.0', 'minor', '2.1.0'],
    ['forge', '2.3.0', 'major', '3.0.0'],
    ['forge', '2.3.0', 'micro', '2.4.0'],
  ] as const)('%s %s + %s = %s', (kind, prev, bump, want) => {
    expect(nextVersion(kind, prev, bump)).toBe(want);
  });

  it('refuses a previous version that is not semver', () => {
    expect(() => nextVersion('connect', 'one', 'micro')).toThrow(AppError);
  });
});

describe('parsePolicy', () => {
  it('reports every problem of an invalid override', () => {
    try {
      parsePolicy({ connect: { baseUrl: { bump: 'huge' } }, forge: { nope: {} } });
      throw new Error('expected policy-invalid');
    } catch (err) {
      expect((err as AppError).code).toBe('policy-invalid');
      expect((err as AppError).details?.problems).toHaveLength(2);
    }
  });
  it('refuses micro for Forge rules', () => {
    expect(() => parsePolicy({ forge: { other: { bump: 'micro' } } })).toThrow(/no micro part/);
  });
});

describe('checkBulkUpgrade (seeds 000/001, DESIGN.md "Distribution rules")', () => {
  const side = (doc: Record<string, unknown>, version: string, environment = 'production') => ({
    manifest: forge(doc),
    version,
    environment,
  });
  type F = typeof baseForge & Record<string, unknown>;

  it('removing scopes and adding an sql module are eligible', () => {
    const target = withChange(baseForge as F, (d) => {
      d.permissions.scopes = [];
      (d.modules as Record<string, unknown>).sql = [{ key: 'db' }];
    });
    expect(checkBulkUpgrade({ source: side(baseForge, '2.4.0'), target: side(target, '3.0.0') })).toEqual({
      eligible: true,
    });
  });

  it('lists every reason an upgrade is not eligible', () => {
    const target = withChange(baseForge as F, (d) => {
      d.permissions.scopes.push('write:jira-work');
      d.permissions.external.fetch.backend.push('https://new.example.com');
      (d.app as Record<string, unknown>).licensing = { enabled: true };
    });
    const v = checkBulkUpgrade({ source: side(baseForge, '3.1.0'), target: side(target, '3.2.0', 'staging') });
    expect(v.eligible).toBe(false);
    if (!v.eligible)
      expect(v.reasons.map((r) => r.code).sort()).toEqual(['egress', 'environment', 'licensing', 'scopes', 'version']);
  });
});
