/**
 * The planner's reading of stored installation records (decodePlanFields): the fast path for a
 * record without windows and the full parse agree on every record shape the store writes.
 */
import { describe, expect, it } from 'vitest';
import { decodePlanFields } from '../../src/store/installation-store.js';

const record = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ s: 'acme.atlassian.net', p: ['jira', 'confluence'], c: 3_600_000, m: null, ...over });

describe('decodePlanFields', () => {
  it('reads the check offset of a record without windows', () => {
    expect(decodePlanFields(record())).toEqual({ c: 3_600_000, m: null });
    expect(decodePlanFields(record({ c: 0 }))).toEqual({ c: 0, m: null });
  });

  it('reads windows as stored', () => {
    const m = { timeZone: 'UTC', weekly: [{ day: 1, start: '02:00', minutes: 60 }], adHoc: [{ start: 1, end: 2 }] };
    expect(decodePlanFields(record({ m }))).toEqual({ c: 3_600_000, m });
  });

  it('is not fooled by a site or product that looks like the fields', () => {
    const s = 'x","c":5,"m":null}';
    expect(decodePlanFields(record({ s, p: [',"c":7'] }))).toEqual({ c: 3_600_000, m: null });
  });

  it('parses whole any record whose check offset is not an integer', () => {
    expect(decodePlanFields(record({ c: 1.5 }))).toEqual({ c: 1.5, m: null });
    expect(decodePlanFields('{"c":12,"s":"a","p":[],"m":null}')).toEqual({ c: 12, m: null });
  });
});
