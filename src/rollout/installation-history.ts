/**
 * The installation history format, pure (no I/O): DESIGN.md "Rollout rules" keeps which
 * installation ran which version when. The installation store keeps one installation's history
 * at the end of its record (keys.ts `installationData`, store/installation-record.ts), entries
 * oldest first, separated by `;`:
 *
 * - `<at>|i|<version>`                  registered
 * - `<at>|u|<from>|<to>|<a or p>`       upgraded (automatic, or by approval)
 * - `<at>|u|<from>|<to>|b|<bulk id>`    upgraded by a bulk major-version upgrade (DESIGN.md
 *                                       "Distribution rules"); a reader that predates it sees an
 *                                       automatic upgrade and ignores the sixth field
 * - `<at>|a|<version>`                  approved
 * - `<at>|n|<version>`                  update available shown / notified
 * - `<at>|m|<app>@<from>|<app>@<to>|<a or p>`  moved from a Connect app to its Forge successor
 *                                       (DESIGN.md "Connect to Forge adoption"), automatically
 *                                       or by approval; kept in both apps' histories
 * - `<at>|d|<version>|<until>|<window>` its upgrade to `version`, due at `at`, was deferred by a
 *                                       maintenance window until `until` (epoch ms; DESIGN.md
 *                                       "Rollout rules": ≤ 4 h); `window` as `encodeWindowRef`
 *                                       in windows.ts. Written with the upgrade it deferred
 *
 * `at` is epoch ms. This module is the single definition of the format. Two store scripts build
 * entries themselves, on hot paths where passing encoded entries would cost more client work
 * (registerInstallations-5.lua: `registered`; compareAndSetVersions-3.lua and upgradeRange-5.lua:
 * `deferred` and `upgraded`, and applyBulkMoves-6.lua: `upgraded`, 2,000 moves per call); their header comments point here and test/store/installation-store-scripts.redis.test.ts
 * proves that what they write decodes here. Version strings and ids never hold `|`, `;`, tabs
 * or newlines (semver and the installation id rules).
 */

import { decodeWindowRef, describeWindowRef, encodeWindowRef, type WindowRef } from './windows.js';

/** One history entry (see the module documentation). `at` is epoch ms. */
export type HistoryEntry =
  | { at: number; kind: 'registered'; version: string }
  | {
      at: number;
      kind: 'upgraded';
      from: string;
      to: string;
      cause: UpgradeCause | 'bulk';
      /** The bulk upgrade that moved it (cause `bulk` only). */
      bulkUpgradeId?: string;
    }
  | { at: number; kind: 'approved'; version: string }
  | { at: number; kind: 'update-available'; version: string }
  | {
      /** When the upgrade was due (its update check, or its Forge slot). */
      at: number;
      kind: 'deferred';
      /** The version whose upgrade was deferred. */
      version: string;
      /** When the window let it run, epoch ms. */
      until: number;
      /** The window that deferred it. */
      window: WindowRef;
    }
  | {
      at: number;
      kind: 'moved';
      /** The Connect app and the Connect version it ran. */
      from: AppVersion;
      /** The Forge app and the version it moved to. */
      to: AppVersion;
      cause: UpgradeCause;
    };

/** An app and one of its versions (`<appId>@<version>` in an entry; app ids may hold `@`, versions never). */
export interface AppVersion {
  appId: string;
  version: string;
}

const appVersionText = (a: AppVersion): string => `${a.appId}@${a.version}`;
function parseAppVersion(s: string | undefined): AppVersion {
  const t = s ?? '';
  const at = t.lastIndexOf('@');
  return { appId: t.slice(0, Math.max(0, at)), version: t.slice(at + 1) };
}

/** Why an installation was upgraded: automatically, or because its admins approved. */
export type UpgradeCause = 'automatic' | 'approval';

/** The cause code of an upgrade by a bulk upgrade; the bulk upgrade's id follows as a sixth field. */
export const BULK_CAUSE_CODE = 'b';

/** Separates the entries of one history field. */
export const HISTORY_SEPARATOR = ';';

/** Separates the fields of one entry. */
const FIELD_SEPARATOR = '|';

/** The one-letter code of each upgrade cause in an `upgraded` entry (the last field). */
export const UPGRADE_CAUSE_CODE: Readonly<Record<UpgradeCause, string>> = { automatic: 'a', approval: 'p' };

/** The one-letter code of each entry kind (the second field). */
const KIND_CODE = {
  registered: 'i',
  upgraded: 'u',
  approved: 'a',
  'update-available': 'n',
  moved: 'm',
  deferred: 'd',
} as const;

/** Encodes one entry, e.g. `1735689600000|u|1.0.0|1.0.1|a`. Pure. */
export function encodeHistoryEntry(e: HistoryEntry): string {
  const head = `${e.at}${FIELD_SEPARATOR}${KIND_CODE[e.kind]}${FIELD_SEPARATOR}`;
  if (e.kind === 'upgraded') {
    const move = `${head}${e.from}${FIELD_SEPARATOR}${e.to}${FIELD_SEPARATOR}`;
    if (e.cause === 'bulk') return `${move}${BULK_CAUSE_CODE}${FIELD_SEPARATOR}${e.bulkUpgradeId ?? ''}`;
    return `${move}${UPGRADE_CAUSE_CODE[e.cause]}`;
  }
  if (e.kind === 'deferred')
    return `${head}${e.version}${FIELD_SEPARATOR}${e.until}${FIELD_SEPARATOR}${encodeWindowRef(e.window)}`;
  if (e.kind === 'moved')
    return `${head}${appVersionText(e.from)}${FIELD_SEPARATOR}${appVersionText(e.to)}${FIELD_SEPARATOR}${UPGRADE_CAUSE_CODE[e.cause]}`;
  return `${head}${e.version}`;
}

/**
 * Decodes one entry.
 * @returns the entry, or null for an unknown kind (forward compatible: a reader skips entries a
 *   later writer added). An `upgraded` entry whose cause code is neither `p` nor `b` reads as
 *   automatic.
 * Pure.
 */
export function decodeHistoryEntry(raw: string): HistoryEntry | null {
  const f = raw.split(FIELD_SEPARATOR);
  const at = Number(f[0]);
  switch (f[1]) {
    case KIND_CODE.registered:
      return { at, kind: 'registered', version: f[2]! };
    case KIND_CODE.upgraded:
      if (f[4] === BULK_CAUSE_CODE)
        return { at, kind: 'upgraded', from: f[2]!, to: f[3]!, cause: 'bulk', bulkUpgradeId: f[5] ?? '' };
      return {
        at,
        kind: 'upgraded',
        from: f[2]!,
        to: f[3]!,
        cause: f[4] === UPGRADE_CAUSE_CODE.approval ? 'approval' : 'automatic',
      };
    case KIND_CODE.approved:
      return { at, kind: 'approved', version: f[2]! };
    case KIND_CODE['update-available']:
      return { at, kind: 'update-available', version: f[2]! };
    case KIND_CODE.deferred: {
      const window = decodeWindowRef(f[4] ?? '');
      return window ? { at, kind: 'deferred', version: f[2]!, until: Number(f[3]), window } : null;
    }
    case KIND_CODE.moved:
      return {
        at,
        kind: 'moved',
        from: parseAppVersion(f[2]),
        to: parseAppVersion(f[3]),
        cause: f[4] === UPGRADE_CAUSE_CODE.approval ? 'approval' : 'automatic',
      };
    default:
      return null;
  }
}

/** Encodes entries into one history field (or the part appended to one), oldest first. Pure. */
export function encodeHistory(entries: readonly HistoryEntry[]): string {
  return entries.map(encodeHistoryEntry).join(HISTORY_SEPARATOR);
}

/**
 * Decodes a history field (null or '' = no history), oldest first; unknown entries are skipped
 * (see `decodeHistoryEntry`). Pure.
 */
export function parseHistory(field: string | null | undefined): HistoryEntry[] {
  if (!field) return [];
  const out: HistoryEntry[] = [];
  for (const raw of field.split(HISTORY_SEPARATOR)) {
    const e = decodeHistoryEntry(raw);
    if (e) out.push(e);
  }
  return out;
}

/**
 * One entry in words, without its time, e.g. `upgraded 1.0.0 → 1.0.1 (automatic)` or `deferred
 * 1.0.1 until 2025-03-04T03:00:00.000Z by window weekly Tue 01:00 for 2 h (UTC)`. Pure.
 */
export function describeHistoryEntry(e: HistoryEntry): string {
  switch (e.kind) {
    case 'upgraded':
      return `upgraded ${e.from} → ${e.to} (${e.cause === 'bulk' ? `bulk upgrade ${e.bulkUpgradeId}` : e.cause})`;
    case 'moved':
      return `moved ${e.from.appId}@${e.from.version} → ${e.to.appId}@${e.to.version} (${e.cause})`;
    case 'deferred':
      return `deferred ${e.version} until ${new Date(e.until).toISOString()} by window ${describeWindowRef(e.window)}`;
    default:
      return `${e.kind} ${e.version}`;
  }
}
