/**
 * A deterministic population of installations for demos, tests and benchmarks
 * (`mpu installations generate --app APP --count N --seed S`). Pure: the same seed gives the same
 * installations. About 60 % have a weekly maintenance window in one of a few time zones, 5 % an
 * ad-hoc window; update-check times are spread over the day.
 */
import { DAY, HOUR, MINUTE } from '../lib/clock.js';
import type { Installation, MaintenanceWindows } from './types.js';

/** mulberry32: small, fast, seedable PRNG returning [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'America/Los_Angeles',
  'Asia/Tokyo',
  'Asia/Kolkata',
  'Australia/Sydney',
];

/** A small set of window profiles, so stores and planners see repeated shapes (as in reality). */
function windowProfile(rand: () => number): MaintenanceWindows | null {
  const r = rand();
  if (r < 0.4) return null;
  const timeZone = ZONES[Math.floor(rand() * ZONES.length)]!;
  if (r < 0.75) {
    // nightly window every day, 1-3 h from 01:00-03:00 local
    const start = `0${1 + Math.floor(rand() * 3)}:00`;
    const minutes = 60 * (1 + Math.floor(rand() * 3));
    return { timeZone, weekly: [0, 1, 2, 3, 4, 5, 6].map((day) => ({ day, start, minutes })), adHoc: [] };
  }
  // weekend freeze: Saturday 00:00 for 8 h (longer than the 4 h cap)
  return { timeZone, weekly: [{ day: 6, start: '00:00', minutes: 8 * 60 }], adHoc: [] };
}

/** Options of `generateInstallations`. */
export interface GenerateOptions {
  appId: string;
  /** How many installations. */
  count: number;
  /** PRNG seed. @defaultValue 1 */
  seed?: number;
  /** Version they all run. */
  version: string;
  /** Anchor for ad-hoc windows (epoch ms); ad-hoc windows fall in the 3 days after it. @defaultValue 2025-01-01T00:00Z */
  now?: number;
  /** Product sets to pick from. @defaultValue [['jira'], ['confluence'], ['jira', 'confluence']] */
  products?: string[][];
  /** False: nobody has maintenance windows (throughput benchmarks). @defaultValue true */
  maintenanceWindows?: boolean;
}

/**
 * Yields `count` installations, lazily (a million need not sit in memory). Ids are
 * `<app>-<seed>-<n>` in hex-like form, sites `site-<n>.example.net`.
 */
export function* generateInstallations(opts: GenerateOptions): Generator<Installation> {
  const rand = seededRandom(opts.seed ?? 1);
  const now = opts.now ?? Date.parse('2025-01-01T00:00:00Z');
  const productSets = opts.products ?? [['jira'], ['confluence'], ['jira', 'confluence']];
  const profiles = Array.from({ length: 24 }, () => windowProfile(rand));
  for (let n = 0; n < opts.count; n++) {
    const base = profiles[Math.floor(rand() * profiles.length)] ?? null;
    let maintenance = opts.maintenanceWindows === false ? null : base;
    if (rand() < 0.05 && opts.maintenanceWindows !== false) {
      const start = now + Math.floor((rand() * 3 * DAY) / MINUTE) * MINUTE;
      const adHoc = [{ start, end: start + (1 + Math.floor(rand() * 6)) * HOUR }];
      maintenance = base ? { ...base, adHoc } : { timeZone: 'UTC', weekly: [], adHoc };
    }
    yield {
      id: `${opts.appId}-${opts.seed ?? 1}-${n.toString(36).padStart(6, '0')}`,
      appId: opts.appId,
      site: `site-${n}.example.net`,
      products: productSets[Math.floor(rand() * productSets.length)]!,
      version: opts.version,
      checkOffsetMs: Math.floor(rand() * (DAY / MINUTE)) * MINUTE,
      maintenance,
    };
  }
}
