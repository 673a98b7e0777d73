/**
 * Script replies turned into typed results or AppErrors, in one place (as BullMQ's
 * `finished-errors.ts` turns its scripts' numeric codes into errors). Each function decodes the
 * replies of the scripts that share one convention (see each .lua file's header in
 * ./commands/); a reply outside the convention is a bug or a script of another deploy, and
 * throws `UnexpectedScriptReply`.
 */
import { AppError, ErrorCode } from '../lib/errors.js';
import type { RolloutAction, RolloutStatus } from '../rollout/rollout-status.js';

/** A script replied something its header does not list (a bug, or a mismatched deploy). */
export class UnexpectedScriptReply extends Error {
  constructor(
    readonly script: string,
    readonly reply: unknown,
  ) {
    super(`script ${script} replied ${JSON.stringify(reply)}, which it does not document`);
    this.name = 'UnexpectedScriptReply';
  }
}

function integer(script: string, reply: unknown): number {
  const n = Number(reply);
  if (!Number.isInteger(n)) throw new UnexpectedScriptReply(script, reply);
  return n;
}

function oneOf<const T extends string>(script: string, reply: unknown, allowed: readonly T[]): T {
  if (typeof reply !== 'string' || !(allowed as readonly string[]).includes(reply)) {
    throw new UnexpectedScriptReply(script, reply);
  }
  return reply as T;
}

// ── Counts and flags ──────────────────────────────────────────────────────────────────────

/**
 * A count (integer ≥ 0): registerInstallations-5, markUpdateAvailable-2, unindexInstallations,
 * writeIndexEntries, receiveAdoptions-6 (and each count of compareAndSetVersions-3, `movesApplied`).
 */
export function countOf(script: string, reply: unknown): number {
  const n = integer(script, reply);
  if (n < 0) throw new UnexpectedScriptReply(script, reply);
  return n;
}

/** compareAndSetVersions-3's `{moved, deferred}`: installations moved, and how many of those moves were deferred. */
export function movesApplied(reply: unknown): { moved: number; deferred: number } {
  if (!Array.isArray(reply) || reply.length !== 2) throw new UnexpectedScriptReply('compareAndSetVersions', reply);
  return { moved: countOf('compareAndSetVersions', reply[0]), deferred: countOf('compareAndSetVersions', reply[1]) };
}

/**
 * upgradeRange-5's reply: `{considered, moved, deferred, targets, unknown}` (targets a flat
 * `<version>, <count>` list; unknown: the ids left to the caller).
 */
export function rangeUpgraded(reply: unknown): {
  considered: number;
  moved: number;
  deferred: number;
  targets: [string, number][];
  unknown: string[];
} {
  if (!Array.isArray(reply) || reply.length !== 5 || !Array.isArray(reply[3]) || !Array.isArray(reply[4]))
    throw new UnexpectedScriptReply('upgradeRange', reply);
  const flat = reply[3] as unknown[];
  const targets: [string, number][] = [];
  for (let i = 0; i < flat.length; i += 2) {
    if (typeof flat[i] !== 'string') throw new UnexpectedScriptReply('upgradeRange', reply);
    targets.push([flat[i] as string, countOf('upgradeRange', flat[i + 1])]);
  }
  const unknown = reply[4] as unknown[];
  if (!unknown.every((x) => typeof x === 'string')) throw new UnexpectedScriptReply('upgradeRange', reply);
  return {
    considered: countOf('upgradeRange', reply[0]),
    moved: countOf('upgradeRange', reply[1]),
    deferred: countOf('upgradeRange', reply[2]),
    targets,
    unknown: unknown as string[],
  };
}

/** 1 done / 0 not done: claimIndexEntries, ackRegistrations-1, approveInstallation-2, markSuperseded-1, createRecord-1. */
export function flagOf(script: string, reply: unknown): boolean {
  const n = integer(script, reply);
  if (n !== 0 && n !== 1) throw new UnexpectedScriptReply(script, reply);
  return n === 1;
}

/** One 1 (recorded) / 0 (gone: no app record) per key: recordPolls. */
export function recordedPerKey(reply: unknown, keys: number): boolean[] {
  if (!Array.isArray(reply) || reply.length !== keys) throw new UnexpectedScriptReply('recordPolls', reply);
  return reply.map((r) => flagOf('recordPolls', r));
}

/** One 1 (the app has the id's record) / 0 per id given: hasInstallations-1. */
export function recordsPresent(reply: unknown, ids: number): boolean[] {
  if (!Array.isArray(reply) || reply.length !== ids) throw new UnexpectedScriptReply('hasInstallations', reply);
  return reply.map((r) => flagOf('hasInstallations', r));
}

/**
 * readIndexEntries: [digest field's value, fallback field's value] (null where absent) of each of
 * the `entries` entries asked for, from its sparse triples (entry number 1-based, digest, fallback).
 */
export function indexEntriesRead(reply: unknown, entries: number): [string | null, string | null][] {
  const out: [string | null, string | null][] = Array.from({ length: entries }, () => [null, null]);
  if (!Array.isArray(reply) || reply.length % 3 !== 0) throw new UnexpectedScriptReply('readIndexEntries', reply);
  for (let i = 0; i < reply.length; i += 3) {
    const k = integer('readIndexEntries', reply[i]);
    const [d, f] = [reply[i + 1] as unknown, reply[i + 2] as unknown];
    const ok = (v: unknown) => v === null || typeof v === 'string';
    if (k < 1 || k > entries || !ok(d) || !ok(f)) throw new UnexpectedScriptReply('readIndexEntries', reply);
    out[k - 1] = [d as string | null, f as string | null];
  }
  return out;
}

// ── Writes guarded by the app record (-1 = the app is not registered) ───────────────────────

/** The app's record does not exist (never registered, or removed while a step was in flight). */
function appNotRegistered(appId: string, what: string): AppError {
  return new AppError(ErrorCode.APP_NOT_FOUND, `app '${appId}' is not registered (removed?): ${what}`, {
    details: { appId },
  });
}

/**
 * saveDescriptor-2: 1 stored, 0 stored already.
 * @throws AppError app-not-found on -1 (no app record: nothing stored).
 */
export function descriptorSaved(reply: unknown, appId: string): 'stored' | 'exists' {
  const n = integer('saveDescriptor', reply);
  if (n === 1) return 'stored';
  if (n === 0) return 'exists';
  if (n === -1) throw appNotRegistered(appId, 'its descriptor was not stored');
  throw new UnexpectedScriptReply('saveDescriptor', reply);
}

/** The app's poll record was not written: recordPolls replied 0 for it. */
export function pollNotRecorded(appId: string): AppError {
  return appNotRegistered(appId, 'its poll was not recorded');
}

/** recordDeployment-2: 1 recorded, 0 recorded already, -1 gone (no app record). */
export function deploymentRecorded(reply: unknown): 'recorded' | 'known' | 'gone' {
  const n = integer('recordDeployment', reply);
  if (n === 1) return 'recorded';
  if (n === 0) return 'known';
  if (n === -1) return 'gone';
  throw new UnexpectedScriptReply('recordDeployment', reply);
}

// ── Status strings ─────────────────────────────────────────────────────────────────────────

/** markDecided-2: 'ok' | 'conflict' | 'gone'. */
export function decisionMarked(reply: unknown): 'ok' | 'conflict' | 'gone' {
  return oneOf('markDecided', reply, ['ok', 'conflict', 'gone']);
}

/** setRolloutStatus-1: 'ok' written | 'stale' (status moved since the read) | 'missing'. */
export function rolloutStatusSet(reply: unknown): 'ok' | 'stale' | 'missing' {
  return oneOf('setRolloutStatus', reply, ['ok', 'stale', 'missing']);
}

/** setPhases-1: 'ok' | 'stale' (phases moved since the read) | 'halted' | 'missing'. */
export function phasesSet(reply: unknown): 'ok' | 'stale' | 'halted' | 'missing' {
  return oneOf('setPhases', reply, ['ok', 'stale', 'halted', 'missing']);
}

/** recordFailure-3: -1 no rollout, -2 unknown installation, else `{added, count}`. */
export function failureRecorded(reply: unknown): 'missing' | 'unknown' | { added: boolean; failures: number } {
  if (reply === -1) return 'missing';
  if (reply === -2) return 'unknown';
  if (!Array.isArray(reply) || reply.length !== 2) throw new UnexpectedScriptReply('recordFailure', reply);
  return { added: flagOf('recordFailure', reply[0]), failures: countOf('recordFailure', reply[1]) };
}

/** finishPlanning-2: 'ok' | 'behind' (installations past the cursor) | 'stale' | 'missing'. */
export function planningFinished(reply: unknown): 'ok' | 'behind' | 'stale' | 'missing' {
  return oneOf('finishPlanning', reply, ['ok', 'behind', 'stale', 'missing']);
}

/** No rollout `<appId>@<version>` exists. */
export function rolloutNotFound(rolloutId: string): AppError {
  return new AppError(ErrorCode.ROLLOUT_NOT_FOUND, `no rollout ${rolloutId} (see 'mpu rollouts list')`);
}

/** The rollout status rule refused `action` for a rollout in `status` (rollout-status.ts). */
export function rolloutActionRefused(rolloutId: string, status: RolloutStatus, action: RolloutAction): AppError {
  return new AppError(ErrorCode.ROLLOUT_CONFLICT, `rollout ${rolloutId} is ${status}: cannot ${action} it`);
}

/** The status kept changing under a compare-and-set of it, `attempts` times (retryable). */
export function rolloutStatusContended(rolloutId: string, attempts: number): AppError {
  const message = `the status of rollout ${rolloutId} changed under ${attempts} attempts to set it; try again`;
  return new AppError(ErrorCode.ROLLOUT_CONFLICT, message, { retryable: true });
}

// ── Pairs {status, value} ──────────────────────────────────────────────────────────────────

/** What `VersionStore.storeVersion` did (storeVersion-5). */
export type StoreVersionResult =
  /** The version was written. */
  | { status: 'created'; version: string }
  /** The deployment id already has a version: nothing written. */
  | { status: 'exists'; version: string }
  /** The latest version is not the one classified against: re-read and classify again. */
  | { status: 'conflict'; latest: string | null }
  /** The app is not registered (removed meanwhile): nothing written. */
  | { status: 'gone' }
  /**
   * A polled change detected before the latest polled change already decided (`versionedAt`,
   * epoch ms): stale, nothing written.
   */
  | { status: 'superseded'; versionedAt: number };

/** storeVersion-5: {'created'|'exists', version}, {'conflict', latest or ''}, {'superseded', ms}, {'gone', ''}. */
export function versionStored(reply: unknown): StoreVersionResult {
  if (!Array.isArray(reply) || reply.length !== 2) throw new UnexpectedScriptReply('storeVersion', reply);
  const [status, v] = reply as [unknown, unknown];
  if (typeof v !== 'string') throw new UnexpectedScriptReply('storeVersion', reply);
  switch (status) {
    case 'created':
    case 'exists':
      return { status, version: v };
    case 'conflict':
      return { status, latest: v === '' ? null : v };
    case 'superseded':
      return { status, versionedAt: Number(v) };
    case 'gone':
      return { status };
    default:
      throw new UnexpectedScriptReply('storeVersion', reply);
  }
}

// ── Integer codes with a conflict ──────────────────────────────────────────────────────────

/**
 * pushBuckets: 1 appended, 0 no rollout (its app was removed).
 * @returns false when the rollout no longer exists
 * @throws AppError rollout-conflict (retryable) on -1: another planner moved the cursor past
 *   `expected`.
 */
export function bucketsPushed(reply: unknown, rolloutId: string, expected: number | undefined): boolean {
  const n = integer('pushBuckets', reply);
  if (n === -1) {
    const message = `the plan of ${rolloutId} moved past ${expected} meanwhile (another planner); it resumes at its cursor`;
    throw new AppError(ErrorCode.ROLLOUT_CONFLICT, message, { retryable: true });
  }
  if (n !== 0 && n !== 1) throw new UnexpectedScriptReply('pushBuckets', reply);
  return n === 1;
}

/**
 * planInstallationList's reply: the bucket's size (positions 0 … n - 1 of the installation list,
 * and the new plan cursor) and the version distribution read with it (version → installations);
 * `gone` when the rollout no longer exists; `per-installation` when an installation of the app has
 * maintenance windows or an approval of its own (nothing written).
 * @throws AppError rollout-conflict (retryable) when another planner moved the cursor
 */
export function installationListPlanned(
  reply: unknown,
  rolloutId: string,
  expected: number,
): { size: number; distribution: Map<string, number> } | 'gone' | 'per-installation' {
  if (Array.isArray(reply) && reply.length === 2 && Array.isArray(reply[1])) {
    const size = integer('planInstallationList', reply[0]);
    const flat = reply[1] as unknown[];
    const distribution = new Map<string, number>();
    for (let i = 0; i + 1 < flat.length; i += 2) distribution.set(String(flat[i]), Number(flat[i + 1]));
    return { size, distribution };
  }
  const n = integer('planInstallationList', reply);
  if (n === -2) {
    const message = `the plan of ${rolloutId} moved past ${expected} meanwhile (another planner); it resumes at its cursor`;
    throw new AppError(ErrorCode.ROLLOUT_CONFLICT, message, { retryable: true });
  }
  if (n === -1) return 'gone';
  if (n === -3) return 'per-installation';
  throw new UnexpectedScriptReply('planInstallationList', reply);
}

// ── Tagged strings ─────────────────────────────────────────────────────────────────────────

/** One app's claimPolls reply, decoded. */
export type ClaimReply =
  /** Claimed: the fields as read (absent ones left out). */
  | { status: 'claimed'; fields: Record<string, string> }
  /** Another owner holds the slot, or a later slot was claimed; `owner` '' = that poll is done. */
  | { status: 'taken'; owner: string }
  /** No app record. */
  | { status: 'gone' }
  /** Claimed, but the fields could not be split (a value held NUL): read them again. */
  | { status: 'unreadable' };

/**
 * claimPolls: per app 'G' gone, 'T' .. owner taken, 'C' .. values claimed (the values of
 * `fields`, in order, NUL-joined, each '' when absent, else '=' .. value).
 */
export function pollsClaimed(reply: unknown, fields: readonly string[]): ClaimReply[] {
  if (!Array.isArray(reply)) throw new UnexpectedScriptReply('claimPolls', reply);
  return reply.map((r): ClaimReply => {
    if (typeof r !== 'string') throw new UnexpectedScriptReply('claimPolls', r);
    if (r === 'G') return { status: 'gone' };
    if (r[0] === 'T') return { status: 'taken', owner: r.slice(1) };
    if (r[0] !== 'C') throw new UnexpectedScriptReply('claimPolls', r);
    const values = r.slice(1).split('\0');
    if (values.length !== fields.length) return { status: 'unreadable' };
    const out: Record<string, string> = {};
    for (let j = 0; j < values.length; j++) if (values[j] !== '') out[fields[j]!] = values[j]!.slice(1);
    return { status: 'claimed', fields: out };
  });
}

// ── Columns ────────────────────────────────────────────────────────────────────────────────

/**
 * readBulkBatch-4: `n` arrays of one length ('' where absent).
 * @returns the arrays as sent
 */
export function columnsOf<T extends string[][]>(script: string, reply: unknown, n: T['length']): T {
  if (!Array.isArray(reply) || reply.length !== n) throw new UnexpectedScriptReply(script, reply);
  const len = (reply[0] as unknown[] | undefined)?.length;
  for (const col of reply) {
    if (!Array.isArray(col) || col.length !== len) throw new UnexpectedScriptReply(script, reply);
  }
  return reply as T;
}

/**
 * readPlanChunk-3: `n` arrays, the first of ids; each other one as long as the first (null where
 * absent), or empty when its whole hash is absent (read as all null).
 * @returns the arrays as sent
 */
export function sparseColumnsOf<T extends [string[], ...(string | null)[][]]>(
  script: string,
  reply: unknown,
  n: T['length'],
): T {
  if (!Array.isArray(reply) || reply.length !== n) throw new UnexpectedScriptReply(script, reply);
  const len = (reply[0] as unknown[] | undefined)?.length;
  for (const col of reply) {
    if (!Array.isArray(col) || (col.length !== len && col.length !== 0)) throw new UnexpectedScriptReply(script, reply);
  }
  return reply as T;
}

/** What an adoption call did: moved now, lost the compare-and-set, or moved before. */
export interface AdoptionReply {
  moved: number;
  conflicts: number;
  done: number;
}

/**
 * `{moved, conflicts, done, pending}` of releaseAdoptions-8: the counts, and the pending entries
 * as `<id>\t<value>` lines (receiveAdoptions-6's input) with their ids.
 */
export function adoptionsReleased(reply: unknown): AdoptionReply & { ids: string[]; lines: string } {
  if (!Array.isArray(reply) || reply.length !== 4 || !Array.isArray(reply[3]) || reply[3].length % 2 !== 0)
    throw new UnexpectedScriptReply('releaseAdoptions', reply);
  const [moved, conflicts, done] = reply.slice(0, 3).map((x) => countOf('releaseAdoptions', x)) as [
    number,
    number,
    number,
  ];
  const flat = reply[3] as unknown[];
  const ids: string[] = [];
  let lines = '';
  for (let i = 0; i < flat.length; i += 2) {
    if (typeof flat[i] !== 'string' || typeof flat[i + 1] !== 'string')
      throw new UnexpectedScriptReply('releaseAdoptions', reply);
    ids.push(flat[i] as string);
    lines += `${flat[i] as string}\t${flat[i + 1] as string}\n`;
  }
  return { moved, conflicts, done, ids, lines };
}
