/**
 * The stored form of one installation: a single field of the app's `inst:data` hash (keys.ts
 * `installationData`) whose value is `<version>\x1f<record JSON>\x1f<history>`:
 *
 * - `version`: the version it runs, the compare-and-set target (first, so a script reads it
 *   with one `string.find`, and `planBulkChunk-4.lua` matches its major at the start);
 * - the record JSON (installation-store.ts `encode`: site, products, check offset, windows,
 *   admins);
 * - `history`: its `;`-separated entries, oldest first (rollout/installation-history.ts), last so
 *   that an upgrade appends at the end.
 *
 * One hash entry per installation instead of three (data, version, history) saves about 2 × 56
 * bytes of entry overhead per installation and two cold hash lookups per upgrade
 * (docs/scaling.md). `\x1f` (unit separator) cannot occur in the JSON (JSON.stringify escapes
 * control characters), and versions and history entries are checked for it where they are
 * written (`assertNoSeparator`). The Lua scripts in commands/ split a record the same way.
 *
 * Windows: a record has maintenance windows when its JSON's `m` is not null. The scripts that
 * keep the app's set of such installations (keys.ts `installationWindowed`) decide it without
 * decoding the JSON: a record has no windows when its JSON contains `,"m":null,` (admins follow
 * `m`) or ends with `,"m":null}`; any other record has windows. Exact for what
 * installation-store.ts `encode` writes (`{"s":…,"p":[…],"c":<integer>,"m":<windows or
 * null>[,"a":[…]]}`): `m` is always present, and `,"m":null` cannot occur anywhere else, since
 * inside a JSON string every `"` is escaped as `\"` (so `,"` never occurs in one), the arrays
 * `p` and `a` hold strings only, and the windows object (rollout/types.ts `MaintenanceWindows`,
 * validated by rollout/installation-input.ts, which drops unknown keys) has no key `m`. A record
 * of another form (no `m` at all) counts as having windows: the set may then name an
 * installation without windows, never miss one with windows. An empty windows object
 * (`{"timeZone":"UTC","weekly":[],"adHoc":[]}`) is not null, so it counts too.
 */
import { AppError, ErrorCode } from '../lib/errors.js';

/** The separator between a record's three parts. */
export const RECORD_SEPARATOR = '\x1f';

/** One installation's stored parts. */
export interface RecordParts {
  version: string;
  json: string;
  history: string;
}

/**
 * @throws AppError `input-invalid` when `value` (a version or a history entry, named `what`)
 *   holds the record separator or a character the history format reserves (`;`, tab, newline)
 */
export function assertNoSeparator(value: string, what: string): void {
  if (value.includes(RECORD_SEPARATOR) || /[;\t\n]/.test(value))
    throw new AppError(ErrorCode.INPUT_INVALID, `${what} '${value}' holds a reserved character (\\x1f ; tab newline)`);
}

/** The stored value of an installation (see the module documentation). */
export function encodeRecord(version: string, json: string, history: string): string {
  return `${version}${RECORD_SEPARATOR}${json}${RECORD_SEPARATOR}${history}`;
}

/** The parts of a stored value, or null when it is not a record of this layout. */
export function splitRecord(value: string | null | undefined): RecordParts | null {
  if (!value) return null;
  const a = value.indexOf(RECORD_SEPARATOR);
  const b = a < 0 ? -1 : value.indexOf(RECORD_SEPARATOR, a + 1);
  if (b < 0) return null;
  return { version: value.slice(0, a), json: value.slice(a + 1, b), history: value.slice(b + 1) };
}

/** The version part of a stored value (null when absent or not a record). */
export function recordVersion(value: string | null | undefined): string | null {
  if (!value) return null;
  const a = value.indexOf(RECORD_SEPARATOR);
  return a < 0 ? null : value.slice(0, a);
}

/** The record JSON part of a stored value, or of a `<version>\x1f<JSON>` pair (null when absent). */
export function recordJson(value: string | null | undefined): string | null {
  if (!value) return null;
  const a = value.indexOf(RECORD_SEPARATOR);
  if (a < 0) return null;
  const b = value.indexOf(RECORD_SEPARATOR, a + 1);
  return b < 0 ? value.slice(a + 1) : value.slice(a + 1, b);
}
