/**
 * Every consecutive pair of the real descriptor histories (../shared/fixtures/real/expected.jsonl,
 * 511 pairs from public repositories) classifies as labelled, with the engine's default policy.
 *
 * The labels follow DESIGN.md's Forge table: a change of `permissions.scopes` (added or removed)
 * or of `permissions.external` is major and needs approval, so the 16 pairs that only remove
 * scopes or egress entries are major/manual (Atlassian, "Connect to OAuth2 scope equivalences":
 * "any changes to the set of scopes … will trigger an admin-approved update").
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/lib/errors.js';
import { classifyChange, parseDescriptor, parsePolicy, type ParsedDescriptor } from '../../src/versioning/index.js';
import { requireFixtures } from '../helpers/fixtures.js';

interface Expected {
  kind: 'connect' | 'forge';
  app: string;
  from_file: string;
  to_file: string;
  bump: string;
  approval: string;
  reasons: string[];
}

const dir = requireFixtures();
const pairs: Expected[] = readFileSync(path.join(dir, 'expected.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Expected);

const cache = new Map<string, ParsedDescriptor | AppError>();
function load(file: string): ParsedDescriptor | AppError {
  let v = cache.get(file);
  if (!v) {
    try {
      v = parseDescriptor(readFileSync(path.join(dir, file), 'utf8'), { source: file });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      v = err;
    }
    cache.set(file, v);
  }
  return v;
}

function classify(e: Expected, policy = parsePolicy({})): { bump: string; approval: string; rules: string[] } {
  const a = load(e.from_file);
  const b = load(e.to_file);
  if (a instanceof AppError || b instanceof AppError) return { bump: 'error', approval: 'error', rules: [] };
  const c = classifyChange(a, b, policy);
  return {
    bump: c.bump,
    approval: c.approval,
    rules: c.reasons.filter((r) => r.approval === 'manual').map((r) => r.rule),
  };
}

/** Pairs whose only manual reasons are scope or egress removals. */
const REMOVAL_RULES = new Set(['forge.scope-removed', 'forge.egress-removed']);
const removalOnly = pairs.filter((e) => {
  const g = classify(e);
  return e.kind === 'forge' && g.rules.length > 0 && g.rules.every((r) => REMOVAL_RULES.has(r));
});

describe('real descriptor histories (expected.jsonl)', () => {
  it('has the 511 labelled pairs', () => {
    expect(pairs.length).toBe(511);
  });

  it.each(pairs.map((p) => [p.to_file, p] as const))('%s', (_name, e) => {
    expect(Object.values(classify(e)).slice(0, 2)).toEqual([e.bump, e.approval]);
  });

  it('labels the 16 Forge pairs that only remove scopes or egress entries major/manual, as the default policy does', () => {
    expect(removalOnly).toHaveLength(16);
    for (const e of removalOnly) expect([e.bump, e.approval]).toEqual(['major', 'manual']);
  });

  it('reproduces every one of the 511 labels with the default policy', () => {
    const differing = pairs.filter((e) => {
      const g = classify(e);
      return g.bump !== e.bump || g.approval !== e.approval;
    });
    expect(differing.map((e) => e.to_file)).toEqual([]);
  });
});
