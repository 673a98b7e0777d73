/**
 * Replay of a descriptor history (DESIGN.md, "Who uses it": vendors replay a history to see which
 * versions and approvals the marketplace would produce). Pure: the caller reads the texts.
 *
 * Each entry is compared with the last version that parsed (not with its broken predecessor), as
 * the marketplace keeps serving the last good descriptor: an unparseable entry creates no version
 * and says why; an unchanged one (same canonical form) creates none either.
 */
import { AppError } from '../lib/errors.js';
import { classifyChange } from './classify-change.js';
import { nextVersion } from './next-version.js';
import { parseDescriptor } from './parse-descriptor.js';
import { defaultPolicy, type VersioningPolicy } from './policy.js';
import type { AppKind, Approval, Bump, ChangeWarning, ParsedDescriptor, Reason } from './types.js';

/** One version of the descriptor as committed. */
export interface HistoryItem {
  /** File name or short commit id: what the timeline shows. */
  label: string;
  /** Full commit id, for git histories. */
  commit?: string;
  /** ISO 8601 date of the commit or file, when known. */
  date?: string;
  /** The descriptor's text. */
  text: string;
}

/** What happened at one history entry. */
export interface TimelineEntry {
  index: number;
  label: string;
  commit?: string;
  date?: string;
  /** `version`: a new version was created; `unchanged`: none (same canonical form); `error`: none (unparseable). */
  status: 'version' | 'unchanged' | 'error';
  /** The new version, or for `unchanged`/`error` the version still current (undefined before the first). */
  version?: string;
  bump: Bump | 'initial' | 'error';
  approval?: Approval;
  reasons: Reason[];
  warnings: ChangeWarning[];
  /** Why no version was created, for `error`. */
  error?: { code: string; message: string };
  hash?: string;
}

/** Counts over a timeline. */
export interface ReplaySummary {
  entries: number;
  versions: number;
  byBump: Record<'initial' | 'major' | 'minor' | 'micro', number>;
  manual: number;
  automatic: number;
  unchanged: number;
  errors: number;
  latestVersion?: string;
}

/** A replayed history. */
export interface Replay {
  kind: AppKind;
  timeline: TimelineEntry[];
  summary: ReplaySummary;
}

/**
 * Replays `items` (oldest first) of one app of kind `kind`.
 * @param onProgress called after each entry with (done, total), for progress bars.
 */
export function replayHistory(
  items: readonly HistoryItem[],
  kind: AppKind,
  policy: VersioningPolicy = defaultPolicy,
  onProgress?: (done: number, total: number) => void,
): Replay {
  const timeline: TimelineEntry[] = [];
  let current: { parsed: ParsedDescriptor; version: string } | null = null;
  items.forEach((item, index) => {
    const base = { index, label: item.label, commit: item.commit, date: item.date };
    let parsed: ParsedDescriptor;
    try {
      parsed = parseDescriptor(item.text, { source: item.label, kind });
    } catch (err) {
      const e =
        err instanceof AppError ? { code: err.code, message: err.message } : { code: 'internal', message: String(err) };
      timeline.push({
        ...base,
        status: 'error',
        version: current?.version,
        bump: 'error',
        reasons: [],
        warnings: [],
        error: e,
      });
      onProgress?.(index + 1, items.length);
      return;
    }
    if (!current) {
      const version = nextVersion(kind, null, 'none');
      current = { parsed, version };
      timeline.push({
        ...base,
        status: 'version',
        version,
        bump: 'initial',
        approval: 'automatic',
        reasons: [],
        warnings: [],
        hash: parsed.hash,
      });
    } else {
      const c = classifyChange(current.parsed, parsed, policy);
      if (c.bump === 'none') {
        timeline.push({
          ...base,
          status: 'unchanged',
          version: current.version,
          bump: 'none',
          approval: 'automatic',
          reasons: [],
          warnings: c.warnings,
          hash: parsed.hash,
        });
        current = { parsed, version: current.version };
      } else {
        const version = nextVersion(kind, current.version, c.bump);
        current = { parsed, version };
        timeline.push({
          ...base,
          status: 'version',
          version,
          bump: c.bump,
          approval: c.approval,
          reasons: c.reasons,
          warnings: c.warnings,
          hash: parsed.hash,
        });
      }
    }
    onProgress?.(index + 1, items.length);
  });
  return { kind, timeline, summary: summarizeTimeline(timeline) };
}

/** Counts versions by bump and approval, unchanged and erroneous entries, and the latest version. */
export function summarizeTimeline(timeline: readonly TimelineEntry[]): ReplaySummary {
  const s: ReplaySummary = {
    entries: timeline.length,
    versions: 0,
    byBump: { initial: 0, major: 0, minor: 0, micro: 0 },
    manual: 0,
    automatic: 0,
    unchanged: 0,
    errors: 0,
  };
  for (const e of timeline) {
    if (e.status === 'error') s.errors++;
    else if (e.status === 'unchanged') s.unchanged++;
    else {
      s.versions++;
      if (e.bump === 'initial' || e.bump === 'major' || e.bump === 'minor' || e.bump === 'micro') s.byBump[e.bump]++;
      if (e.bump !== 'initial') {
        if (e.approval === 'manual') s.manual++;
        else s.automatic++;
      }
      s.latestVersion = e.version;
    }
  }
  return s;
}
