/**
 * Replay of a descriptor history (DESIGN.md, "Who uses it": vendors replay a history to see which
 * versions and approvals the marketplace would produce). Pure: the caller reads the texts.
 *
 * Each entry is compared with the last version that parsed (not with its broken predecessor), as
 * the marketplace keeps serving the last good descriptor: an unparseable entry creates no version
 * and says why; an unchanged one (same canonical form) creates none either.
 */
import { AppError, ErrorCode } from '../lib/errors.js';
import { judgeAdoption } from './adoption.js';
import { classifyChange, type ClassifyOptions } from './classify-change.js';
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
  /** The entry's kind, in a history that moves from Connect to Forge (`replayMove`). */
  kind?: AppKind;
  /** `adoption`: the first Forge version, judged against the last Connect version (`judgeAdoption`). */
  step?: 'adoption';
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
  /** `connect-to-forge` for a history that moves from a Connect app to its Forge successor. */
  kind: AppKind | 'connect-to-forge';
  timeline: TimelineEntry[];
  summary: ReplaySummary;
}

/** The last version that parsed, and its number. */
interface Current {
  parsed: ParsedDescriptor;
  version: string;
}

/**
 * Replays `items` (oldest first) of one app of kind `kind`. A Connect history is judged by the
 * product's scope rules (`opts.product`, else inferred per change: see classifyChange).
 * @param onProgress called after each entry with (done, total), for progress bars.
 */
export function replayHistory(
  items: readonly HistoryItem[],
  kind: AppKind,
  policy: VersioningPolicy = defaultPolicy,
  onProgress?: (done: number, total: number) => void,
  opts: ClassifyOptions = {},
): Replay {
  const { timeline } = replayInto(items, kind, policy, opts, null, 0, (i) => onProgress?.(i, items.length));
  return { kind, timeline, summary: summarizeTimeline(timeline) };
}

/**
 * Replays a history that moves from a Connect app to its Forge successor (DESIGN.md, "Connect to
 * Forge adoption"): the Connect versions by Connect rules, then the first Forge manifest that
 * parses as the adoption step (`judgeAdoption` against the last Connect version that parsed; its
 * version follows that Connect version: minor → M.(m+1).0, major → (M+1).0.0), then the later
 * Forge versions by Forge rules.
 * @throws AppError `input-invalid` when no Connect version parses; `descriptor-invalid` when the
 *   first Forge manifest does not name the Connect app (`app.connect.key`).
 */
export function replayMove(
  connectItems: readonly HistoryItem[],
  forgeItems: readonly HistoryItem[],
  policy: VersioningPolicy = defaultPolicy,
  onProgress?: (done: number, total: number) => void,
  opts: ClassifyOptions = {},
): Replay {
  const total = connectItems.length + forgeItems.length;
  const progress = (i: number) => onProgress?.(i, total);
  const before = replayInto(connectItems, 'connect', policy, opts, null, 0, progress);
  const last = before.current;
  if (!last)
    throw new AppError(ErrorCode.INPUT_INVALID, 'no Connect version of the history parses: nothing to move from');
  const after = replayInto(forgeItems, 'forge', policy, opts, last, connectItems.length, progress, (parsed, item) => {
    const v = judgeAdoption(last.parsed, parsed, policy, opts);
    const version = nextVersion('forge', last.version, v.bump);
    return {
      entry: {
        label: item.label,
        commit: item.commit,
        date: item.date,
        status: 'version',
        version,
        bump: v.bump,
        approval: v.approval,
        reasons: v.reasons,
        warnings: [],
        hash: parsed.hash,
        step: 'adoption',
      },
      version,
    };
  });
  const timeline = [
    ...before.timeline.map((e) => ({ ...e, kind: 'connect' as const })),
    ...after.timeline.map((e) => ({ ...e, kind: 'forge' as const })),
  ];
  return { kind: 'connect-to-forge', timeline, summary: summarizeTimeline(timeline) };
}

/** The first version of a history replayed after another one (the adoption step). */
type FirstStep = (
  parsed: ParsedDescriptor,
  item: HistoryItem,
) => { entry: Omit<TimelineEntry, 'index'>; version: string };

function replayInto(
  items: readonly HistoryItem[],
  kind: AppKind,
  policy: VersioningPolicy,
  opts: ClassifyOptions,
  start: Current | null,
  offset: number,
  progress: (done: number) => void,
  firstStep?: FirstStep,
): { timeline: TimelineEntry[]; current: Current | null } {
  const timeline: TimelineEntry[] = [];
  let current: Current | null = firstStep ? null : start;
  items.forEach((item, i) => {
    const index = offset + i;
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
        version: (current ?? start)?.version,
        bump: 'error',
        reasons: [],
        warnings: [],
        error: e,
      });
      progress(index + 1);
      return;
    }
    if (!current && firstStep) {
      const { entry, version } = firstStep(parsed, item);
      current = { parsed, version };
      timeline.push({ ...entry, index });
    } else if (!current) {
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
      const c = classifyChange(current.parsed, parsed, policy, opts);
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
    progress(index + 1);
  });
  return { timeline, current };
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
