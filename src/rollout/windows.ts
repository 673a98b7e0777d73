/**
 * Maintenance windows (DESIGN.md "Rollout rules" [seed 003]): an upgrade that falls inside an
 * installation's maintenance window is deferred to the window's end, at most 4 h. Pure: `t` is
 * passed in. Time zones through `Intl.DateTimeFormat`, with the UTC offset cached per zone and
 * hour so that planning a million installations does not format a million dates.
 */
import { HOUR, MINUTE } from '../lib/clock.js';
import type { MaintenanceWindows, WeeklyWindow } from './types.js';

const WEEK_MINUTES = 7 * 24 * 60;
const formatters = new Map<string, Intl.DateTimeFormat>();
const offsetCache = new Map<string, number>();

/** True when `tz` is an IANA time zone this runtime knows. */
export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function formatterFor(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

/**
 * Offset of `tz` from UTC at `t`, in ms (local = t + offset). Cached per zone and UTC hour: zone
 * transitions happen on the hour or half hour, so at worst the 30 minutes after a half-hour
 * transition use the previous offset.
 * @throws RangeError when `tz` is unknown (validate with `isValidTimeZone` first).
 */
export function timeZoneOffsetMs(tz: string, t: number): number {
  if (tz === 'UTC' || tz === 'Etc/UTC') return 0;
  const hourStart = Math.floor(t / HOUR) * HOUR;
  const key = `${tz}|${hourStart}`;
  let off = offsetCache.get(key);
  if (off === undefined) {
    const parts: Record<string, number> = {};
    for (const p of formatterFor(tz).formatToParts(hourStart))
      if (p.type !== 'literal') parts[p.type] = Number(p.value);
    const local = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!);
    off = local - hourStart;
    if (offsetCache.size > 200_000) offsetCache.clear();
    offsetCache.set(key, off);
  }
  return off;
}

/** Parses `HH:MM` to minutes after midnight, or null. */
export function parseLocalTime(s: string): number | null {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(s);
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

/** Minutes since local Sunday 00:00 at `t` (fractional), and the offset used. */
function weekMinute(tz: string, t: number): number {
  const local = t + timeZoneOffsetMs(tz, t);
  // 1970-01-01 was a Thursday (day 4).
  const days = Math.floor(local / (24 * HOUR));
  const dow = (((days + 4) % 7) + 7) % 7;
  return dow * 24 * 60 + (local - days * 24 * HOUR) / MINUTE;
}

/** End (epoch ms) of the weekly window containing `t`, or null. */
function weeklyEnd(tz: string, weekly: WeeklyWindow[], t: number): number | null {
  if (weekly.length === 0) return null;
  const m = weekMinute(tz, t);
  let best: number | null = null;
  for (const w of weekly) {
    const start = w.day * 24 * 60 + (parseLocalTime(w.start) ?? 0);
    const into = (((m - start) % WEEK_MINUTES) + WEEK_MINUTES) % WEEK_MINUTES;
    if (into < w.minutes) {
      const end = t + (w.minutes - into) * MINUTE;
      best = best === null ? end : Math.max(best, end);
    }
  }
  return best === null ? null : Math.round(best);
}

/**
 * End of the maintenance window that contains `t` (epoch ms), or null when `t` is outside every
 * window. When several windows contain `t`, the latest end.
 */
export function maintenanceWindowEnd(windows: MaintenanceWindows | null, t: number): number | null {
  if (!windows) return null;
  let end = weeklyEnd(windows.timeZone, windows.weekly, t);
  for (const w of windows.adHoc) if (t >= w.start && t < w.end) end = end === null ? w.end : Math.max(end, w.end);
  return end;
}

/**
 * When an upgrade due at `t` may run: `t` itself outside any window; else the end of the window
 * (following back-to-back windows), but never later than `t + capMs` [seed 003: at most 4 h].
 * @returns epoch ms, `t ≤ result ≤ t + capMs`.
 */
export function deferForMaintenance(windows: MaintenanceWindows | null, t: number, capMs: number): number {
  if (!windows) return t;
  const limit = t + capMs;
  let cur = t;
  for (let i = 0; i < 16 && cur < limit; i++) {
    const end = maintenanceWindowEnd(windows, cur);
    if (end === null || end <= cur) break;
    cur = end;
  }
  return Math.min(cur, limit);
}

/**
 * One maintenance window, as a history entry and the "why" explanation name it: a weekly window
 * (local day 0 = Sunday … 6, `HH:MM` start, length in minutes, in `timeZone`) or an ad-hoc one
 * (epoch ms, `start` inclusive, `end` exclusive).
 */
export type WindowRef =
  | { kind: 'weekly'; day: number; start: string; minutes: number; timeZone: string }
  | { kind: 'ad-hoc'; start: number; end: number };

/**
 * The window that contains `t` (epoch ms), or null: the one ending last when several do (the
 * one that defers an upgrade due at `t` furthest; DESIGN.md "Rollout rules"). Pure.
 */
export function windowAt(windows: MaintenanceWindows | null, t: number): WindowRef | null {
  if (!windows) return null;
  let best: { ref: WindowRef; end: number } | null = null;
  if (windows.weekly.length > 0) {
    const m = weekMinute(windows.timeZone, t);
    for (const w of windows.weekly) {
      const start = w.day * 24 * 60 + (parseLocalTime(w.start) ?? 0);
      const into = (((m - start) % WEEK_MINUTES) + WEEK_MINUTES) % WEEK_MINUTES;
      if (into >= w.minutes) continue;
      const end = t + (w.minutes - into) * MINUTE;
      if (!best || end > best.end)
        best = {
          ref: { kind: 'weekly', day: w.day, start: w.start, minutes: w.minutes, timeZone: windows.timeZone },
          end,
        };
    }
  }
  for (const w of windows.adHoc)
    if (t >= w.start && t < w.end && (!best || w.end > best.end))
      best = { ref: { kind: 'ad-hoc', start: w.start, end: w.end }, end: w.end };
  return best?.ref ?? null;
}

/**
 * A window as one history field: `w<day>,<HH:MM>,<minutes>,<time zone>` or `h<start>,<end>`
 * (IANA zone names and `HH:MM` never hold `|` or `;`). Pure.
 */
export function encodeWindowRef(w: WindowRef): string {
  return w.kind === 'weekly' ? `w${w.day},${w.start},${w.minutes},${w.timeZone}` : `h${w.start},${w.end}`;
}

/** Decodes `encodeWindowRef`'s text, or null when it is not one. Pure. */
export function decodeWindowRef(s: string): WindowRef | null {
  const f = s.slice(1).split(',');
  if (s.startsWith('w') && f.length === 4) {
    const [day, start, minutes, timeZone] = f as [string, string, string, string];
    return { kind: 'weekly', day: Number(day), start, minutes: Number(minutes), timeZone };
  }
  if (s.startsWith('h') && f.length === 2) return { kind: 'ad-hoc', start: Number(f[0]), end: Number(f[1]) };
  return null;
}

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** A window in words, e.g. `weekly Sat 00:00 for 8 h (Europe/Berlin)` or `ad hoc 2025-03-04T01:00Z–03:00Z`. Pure. */
export function describeWindowRef(w: WindowRef): string {
  if (w.kind === 'ad-hoc')
    return `ad hoc ${new Date(w.start).toISOString().slice(0, 16)}Z–${new Date(w.end).toISOString().slice(0, 16)}Z`;
  const len = w.minutes % 60 === 0 ? `${w.minutes / 60} h` : `${w.minutes} min`;
  return `weekly ${DAY_NAMES[w.day] ?? `day ${w.day}`} ${w.start} for ${len} (${w.timeZone})`;
}
