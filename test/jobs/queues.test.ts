/**
 * Job ids and payloads as bull-board shows them: readable ids (a Forge ARI as `forge-<uuid>`, not
 * `ari~3acloud~3a…`) that stay one to one, never hold ':' and are never integers; payload fields
 * for people are optional, so jobs queued by an older release still parse.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AdoptionBatchJob,
  adoptionBatchJobId,
  NotifyBatchJob,
  UpgradeBatchJob,
  VersionJob,
  jobIdPart,
  notifyBatchSize,
  planRolloutJobId,
  upgradeBatchJobId,
  upgradeBatchSize,
} from '../../src/jobs/queues.js';

const UUID = '0c8f2b7e-1d2a-4c3b-9e8f-123456789abc';
const ARI = `ari:cloud:ecosystem::app/${UUID}`;

describe('jobIdPart', () => {
  it.each`
    input                 | part
    ${ARI}                | ${`forge-${UUID}`}
    ${'my-connect.app_1'} | ${'my-connect.app_1'}
    ${'1.2.3'}            | ${'1.2.3'}
    ${`forge-${UUID}`}    | ${`~66orge-${UUID}`}
    ${'a:b'}              | ${'a~3ab'}
    ${'é'}                | ${'~c3~a9'}
    ${'~'}                | ${'~7e'}
    ${'a__b'}             | ${'a~5f~5fb'}
    ${'_a_'}              | ${'~5fa~5f'}
    ${ARI.toUpperCase()}  | ${expect.stringMatching(/^ARI~3aCLOUD/)}
  `('$input → $part', ({ input, part }: { input: string; part: string }) => {
    expect(jobIdPart(input)).toEqual(part);
  });

  it('reads well in a whole job id', () => {
    expect(planRolloutJobId({ v: 1, appId: ARI, version: '3.1.0' })).toBe(`plan__forge-${UUID}__3.1.0`);
  });

  it('is one to one (escapes are fixed width: the old `~<code point>` made ":a" and "Ϊ" both "~3aa")', () => {
    expect(jobIdPart(':a')).not.toBe(jobIdPart('\u03aa'));
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        fc.pre(a !== b);
        return jobIdPart(a) !== jobIdPart(b);
      }),
      { numRuns: 2000 },
    );
    const withAris = fc.oneof(
      fc.uuid().map((u) => `ari:cloud:ecosystem::app/${u}`),
      fc.uuid().map((u) => `forge-${u}`),
    );
    fc.assert(
      fc.property(withAris, withAris, (a, b) => a === b || jobIdPart(a) !== jobIdPart(b)),
      { numRuns: 2000 },
    );
  });

  it('parts joined with "__" never collide (an app id with "__" against a version)', () => {
    expect(planRolloutJobId({ v: 1, appId: 'a__b', version: 'c' })).not.toBe(
      planRolloutJobId({ v: 1, appId: 'a', version: 'b__c' }),
    );
    const part = fc.string({ unit: fc.constantFrom('a', '_', '-', ':') });
    fc.assert(
      fc.property(part, part, part, part, (a, b, c, d) => {
        fc.pre(a !== c || b !== d);
        return `${jobIdPart(a)}__${jobIdPart(b)}` !== `${jobIdPart(c)}__${jobIdPart(d)}`;
      }),
      { numRuns: 5000 },
    );
  });

  it('never holds ":" and a job id is never an integer', () => {
    fc.assert(fc.property(fc.string(), (s) => !jobIdPart(s).includes(':')));
    const id = upgradeBatchJobId({
      v: 1,
      appId: '1',
      version: '2',
      dueAt: 0,
      source: { kind: 'bucket', at: 0, start: 0, end: 0 },
    });
    expect(Number.isInteger(Number(id))).toBe(false);
  });
});

describe('payloads for people', () => {
  it('jobs queued by an older release (no ISO times, no counts) still parse', () => {
    const upgrade = {
      v: 1,
      appId: 'a',
      version: '1.0.1',
      dueAt: 1,
      source: { kind: 'bucket', at: 1, start: 0, end: 0 },
    };
    expect(UpgradeBatchJob.parse(upgrade)).toEqual(upgrade);
    const notify = { v: 1, appId: 'a', version: '1.1.0', at: 1, start: 0, end: 9 };
    expect(NotifyBatchJob.parse(notify)).toEqual(notify);
    const version = {
      v: 1,
      appId: 'a',
      source: 'poll',
      descriptorHash: `sha256:${'0'.repeat(64)}`,
      baseVersion: null,
      detectedAt: 1,
    };
    expect(VersionJob.parse(version)).toEqual(version);
  });

  it('a batch knows how many installations it covers (bucket ranges are inclusive)', () => {
    const base = { v: 1 as const, appId: 'a', version: '1.0.1', dueAt: 1 };
    expect(upgradeBatchSize({ ...base, source: { kind: 'bucket', at: 1, start: 0, end: 0 } })).toBe(1);
    expect(upgradeBatchSize({ ...base, source: { kind: 'bucket', at: 1, start: 2000, end: 3999 } })).toBe(2000);
    expect(upgradeBatchSize({ ...base, source: { kind: 'late', ids: ['x', 'y'] } })).toBe(2);
    expect(notifyBatchSize({ v: 1, appId: 'a', version: '1', at: 1, start: 5, end: 9 })).toBe(5);
  });
});

describe('adoption batch jobs', () => {
  const job = { v: 1, forgeAppId: ARI, version: '2.0.0', connectAppId: 'com.example.notes', kind: 'move' } as const;
  it('get one id per adoption, kind, time and set of ids: the same batch planned again gets the same id', () => {
    const a = adoptionBatchJobId({ ...job, at: 1000, ids: ['i1', 'i2'] });
    expect(a).toBe(adoptionBatchJobId({ ...job, at: 1000, ids: ['i1', 'i2'], installations: 2 }));
    expect(a).toMatch(new RegExp(`^adopt__forge-${UUID}__2\\.0\\.0__move__1000__2__[0-9a-f]{32}$`));
    expect(a).not.toContain(':');
    expect(adoptionBatchJobId({ ...job, at: 1000, ids: ['i1', 'i3'] })).not.toBe(a);
    expect(adoptionBatchJobId({ ...job, at: 2000, ids: ['i1', 'i2'] })).not.toBe(a);
    expect(adoptionBatchJobId({ ...job, kind: 'notify', at: 1000, ids: ['i1', 'i2'] })).not.toBe(a);
  });
  it('parse without the fields for people, and refuse an empty batch', () => {
    expect(AdoptionBatchJob.parse({ ...job, at: 1, ids: ['i1'] })).toEqual({ ...job, at: 1, ids: ['i1'] });
    expect(AdoptionBatchJob.safeParse({ ...job, at: 1, ids: [] }).success).toBe(false);
  });
});
