/**
 * The installation history format (src/rollout/installation-history.ts), as table tests. That
 * the entries the store's scripts build themselves are exactly these encodings is proved on a
 * real Redis in test/store/installation-store-scripts.redis.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  decodeHistoryEntry,
  encodeHistory,
  encodeHistoryEntry,
  parseHistory,
  type HistoryEntry,
} from '../../src/rollout/installation-history.js';

const T = 1_735_689_600_000;

describe('encodeHistoryEntry / decodeHistoryEntry', () => {
  it.each<[HistoryEntry, string]>([
    [{ at: T, kind: 'registered', version: '1.0.0' }, `${T}|i|1.0.0`],
    [{ at: T, kind: 'upgraded', from: '1.0.0', to: '1.0.1', cause: 'automatic' }, `${T}|u|1.0.0|1.0.1|a`],
    [{ at: T, kind: 'upgraded', from: '1.0.1', to: '2.0.0', cause: 'approval' }, `${T}|u|1.0.1|2.0.0|p`],
    [
      { at: T, kind: 'upgraded', from: '2.3.0', to: '3.0.0', cause: 'bulk', bulkUpgradeId: 'bu-1f2e' },
      `${T}|u|2.3.0|3.0.0|b|bu-1f2e`,
    ],
    [{ at: T, kind: 'approved', version: '2.0.0' }, `${T}|a|2.0.0`],
    [{ at: T, kind: 'update-available', version: '2.0.0' }, `${T}|n|2.0.0`],
    [{ at: 0, kind: 'registered', version: '2.0.0-beta.1+build.7' }, `0|i|2.0.0-beta.1+build.7`],
    [
      {
        at: T,
        kind: 'deferred',
        version: '1.0.1',
        until: T + 7_200_000,
        window: { kind: 'weekly', day: 6, start: '00:00', minutes: 480, timeZone: 'America/Los_Angeles' },
      },
      `${T}|d|1.0.1|${T + 7_200_000}|w6,00:00,480,America/Los_Angeles`,
    ],
    [
      {
        at: T,
        kind: 'deferred',
        version: '1.0.1',
        until: T + 60_000,
        window: { kind: 'ad-hoc', start: T - 1, end: T + 60_000 },
      },
      `${T}|d|1.0.1|${T + 60_000}|h${T - 1},${T + 60_000}`,
    ],
  ])('%o <-> %s', (entry, encoded) => {
    expect(encodeHistoryEntry(entry)).toBe(encoded);
    expect(decodeHistoryEntry(encoded)).toEqual(entry);
  });

  it.each([`${T}|x|1.0.0`, '', `${T}`])('an unknown entry %j decodes to null', (raw) => {
    expect(decodeHistoryEntry(raw)).toBeNull();
  });

  it('an upgrade whose cause code is not p reads as automatic', () => {
    expect(decodeHistoryEntry(`${T}|u|1.0.0|1.0.1|z`)).toMatchObject({ cause: 'automatic' });
  });
});

describe('encodeHistory / parseHistory', () => {
  const entries: HistoryEntry[] = [
    { at: 1, kind: 'registered', version: '1.0.0' },
    { at: 2, kind: 'update-available', version: '2.0.0' },
    { at: 3, kind: 'approved', version: '2.0.0' },
    { at: 4, kind: 'upgraded', from: '1.0.0', to: '2.0.0', cause: 'approval' },
  ];

  it('round-trips a field, oldest first, `;`-separated', () => {
    expect(encodeHistory(entries)).toBe('1|i|1.0.0;2|n|2.0.0;3|a|2.0.0;4|u|1.0.0|2.0.0|p');
    expect(parseHistory(encodeHistory(entries))).toEqual(entries);
  });

  it.each([null, undefined, ''])('%j is no history', (field) => {
    expect(parseHistory(field)).toEqual([]);
    expect(encodeHistory([])).toBe('');
  });

  it('skips entries it does not know (written by a later version)', () => {
    expect(parseHistory(`1|i|1.0.0;2|zz|what;3|a|2.0.0`)).toEqual([
      entries[0],
      { at: 3, kind: 'approved', version: '2.0.0' },
    ]);
  });
});
