/**
 * A policy file names its rules as `mpu diff` / `mpu replay` print them (`[connect.scope-increase:
 * minor, manual]` is set under `connect: { scope-increase: … }`), and an unknown rule is answered
 * with the valid ones.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { POLICY_RULE_NAMES, parsePolicy } from '../../src/versioning/policy.js';
import type { AppError } from '../../src/lib/errors.js';

describe('policy rule names', () => {
  it('every rule a classification can print is a key of the policy', () => {
    const source = readFileSync(new URL('../../src/versioning/classify-change.ts', import.meta.url), 'utf8');
    const printed = new Set([...source.matchAll(/'((?:connect|forge)\.[a-z-]+)'/g)].map((m) => m[1]!));
    expect(printed.size).toBeGreaterThan(10);
    for (const rule of printed) {
      const [kind, name] = rule.split('.') as ['connect' | 'forge', string];
      expect(POLICY_RULE_NAMES[kind], rule).toContain(name);
    }
  });

  it('accepts the printed names (and the camelCase ones of older files)', () => {
    const p = parsePolicy({
      connect: { 'scope-increase': { approval: 'automatic' }, 'base-url': { enabled: false } },
      forge: { 'egress-added': { bump: 'minor' }, remoteBaseUrl: { approval: 'automatic' } },
    });
    expect(p.connect.scopeIncrease).toMatchObject({ bump: 'minor', approval: 'automatic' });
    expect(p.connect.baseUrl.enabled).toBe(false);
    expect(p.forge.egressAdded.bump).toBe('minor');
    expect(p.forge.remoteBaseUrl.approval).toBe('automatic');
  });

  it('an unknown rule is refused with the list of valid ones', () => {
    const err = (() => {
      try {
        parsePolicy({ connect: { 'scope-added': { bump: 'major' } } });
      } catch (e) {
        return e as AppError;
      }
    })();
    expect(err?.code).toBe('policy-invalid');
    expect(err?.message).toMatch(
      /connect: unknown rule "scope-added"; the connect rules are api-version, scope-increase, free-to-paid, base-url, other/,
    );
    expect(() => parsePolicy({ forge: { nope: {} } })).toThrow(
      /forge: unknown rule "nope"; the forge rules are scope-added/,
    );
    expect(() => parsePolicy({ jira: {} })).toThrow(/unknown key "jira"; a policy has the keys connect, forge/);
    expect(() => parsePolicy({ connect: { other: { bmp: 'x' } } })).toThrow(
      /connect\.other: unknown key "bmp"; a rule has/,
    );
    expect(() => parsePolicy({ forge: { 'scope-added': { bump: 'micro' } } })).toThrow(/forge\.scope-added\.bump/);
  });
});
