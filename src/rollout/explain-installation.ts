/**
 * Why an installation runs the version it runs, and what its daily update check answers
 * (DESIGN.md "Rollout rules" [seed 003]): pure, from the installation, the app's versions, its
 * rollouts' states and the notices sent, at `now`. The same promise times as the planner
 * (plan-rollout.ts `automaticUpgradeAt` and `bucketTime`, plan-late.ts `lateBucketTime` for an
 * installation registered after a version was published), so the answers agree with what the
 * upgrade batches do and record in the history, and the reconciliation sweep
 * (app/rollout/reconcile.ts) reads "overdue" off the same rule.
 *
 * The explanation is a list of typed reasons (`InstallationReason`), oldest version first; a new
 * kind of reason (a rollout phase not reached yet, say) is one more member of the union and one
 * more case of `describeReason`.
 */
import { automaticUpgradeAt, nextCheckAt } from './plan-rollout.js';
import { lateBucketTime } from './plan-late.js';
import type { RolloutStatus } from './rollout-status.js';
import type { MaintenanceWindows, PlannedVersion, RolloutPolicy } from './types.js';
import { VersionLadder, decideTarget } from './version-ladder.js';
import { deferForMaintenance, describeWindowRef, windowAt, type WindowRef } from './windows.js';
import { cohortOf, inCohort, phasePercent, type PhaseState } from './phased-release.js';

/** What the explanation reads of one installation. Times epoch ms. */
export interface ExplainedInstallation {
  id: string;
  /** The version it runs (the store's). */
  version: string;
  /** Daily update check, ms after 00:00 UTC. */
  checkOffsetMs: number;
  maintenance: MaintenanceWindows | null;
  /** Highest version its admins approved, or null. */
  approvedUpTo: string | null;
  /** When it was registered (its `registered` history entry), or null when unknown. */
  knownAt: number | null;
  /** When its admins approved each manual version (its `approved` history entries). */
  approvedAt: Readonly<Record<string, number>>;
}

/** A rollout's state, as the explanation names it. */
export interface RolloutFacts {
  status: RolloutStatus;
  /** Who paused or halted it (an audit actor: token name, `cli:<user>`…), when known. */
  by?: string | null;
  /** When it was paused or halted, epoch ms, when known. */
  at?: number | null;
  /** Its phased release (rollout/phased-release.ts), when it has one. */
  phased?: PhaseState | null;
}

/** The "update available" notice of one manual version to the installation's admins. */
export interface NoticeFacts {
  /** When its admins were first notified, epoch ms. */
  notifiedAt: number;
  /** When they were reminded, oldest first. */
  remindedAt: readonly number[];
}

/** Everything `explainInstallation` reads. */
export interface ExplainInput {
  installation: ExplainedInstallation;
  /** Every stored version of the app, any order. */
  versions: readonly PlannedVersion[];
  /** Rollout state per version; a version without one is read as rolling out normally. */
  rollouts: ReadonlyMap<string, RolloutFacts>;
  /** Notices sent per manual version. */
  notices: ReadonlyMap<string, NoticeFacts>;
  policy: RolloutPolicy;
  /** Reminders of a pending approval are sent this often, ms. */
  reminderIntervalMs: number;
  /** Now, epoch ms. */
  now: number;
  /** True when the installation's app is no longer registered (`mpu apps remove`). */
  appRemoved?: boolean;
  /** The installation's app id: its phased-release cohort is a hash of app and installation. */
  appId?: string;
}

/**
 * One reason, with its times (epoch ms):
 * - `up-to-date`: it runs the newest published version it may have;
 * - `waiting-for-check`: `version` reaches it at its next daily check `checkAt` (Forge: its slot);
 * - `deferred-by-window`: that upgrade, due at `dueAt`, is deferred by `window` until `until`;
 * - `overdue`: its promise said it runs `version` by `dueAt` and it does not yet (the
 *   reconciliation sweep repairs it);
 * - `needs-approval`: `version` needs its admins' approval: `notifiedAt` (null before its check
 *   `showsAt`), reminders sent and the next one;
 * - `blocked-behind`: the automatic `version` waits behind the unapproved manual `blockedBy`;
 * - `rollout-paused` / `rollout-halted`: `version`'s rollout was paused or halted, by whom and
 *   when (null when the audit trail does not say);
 * - `phase-not-reached`: `version` is a phased release whose current phase (`percent` %) does not
 *   reach the installation's cohort (`cohort`, a percentile in [0, 100)); the next phase starts
 *   at `nextStepAt` (null at the last phase or while paused);
 * - `app-removed`: its app was removed; nothing more is rolled out to it.
 */
export type InstallationReason =
  | { kind: 'up-to-date'; version: string }
  | { kind: 'waiting-for-check'; version: string; checkAt: number }
  | { kind: 'deferred-by-window'; version: string; dueAt: number; until: number; window: WindowRef }
  | { kind: 'overdue'; version: string; dueAt: number }
  | {
      kind: 'needs-approval';
      version: string;
      showsAt: number;
      notifiedAt: number | null;
      remindedAt: number[];
      nextReminderAt: number | null;
    }
  | { kind: 'blocked-behind'; version: string; blockedBy: string }
  | { kind: 'rollout-paused'; version: string; by: string | null; at: number | null }
  | { kind: 'rollout-halted'; version: string; by: string | null; at: number | null }
  | { kind: 'phase-not-reached'; version: string; cohort: number; percent: number; nextStepAt: number | null }
  | { kind: 'app-removed' };

/** What `explainInstallation` answers. Times epoch ms. */
export interface InstallationExplanation {
  installationId: string;
  /** The version it runs. */
  current: string;
  /** The newest published version whose rollout is not halted, or null. */
  latest: string | null;
  /** The version its promise says it runs now (`current` when nothing is due). */
  shouldRun: string;
  /** Its next daily update check after `now`. */
  nextCheckAt: number;
  reasons: InstallationReason[];
}

/** When a version's upgrade is promised to one installation (epoch ms). */
export interface PromisedUpgrade {
  /** Its update check (Connect) or spread slot (Forge). */
  dueAt: number;
  /** After maintenance deferral (≤ `dueAt` + 4 h). */
  exactAt: number;
  /** The bucket time its upgrade batch runs at (what the plan wrote). */
  at: number;
}

/**
 * When the planner has the automatic `v` reach `inst`: the plan's bucket time (plan-rollout.ts),
 * with the window measured from its registration when it was registered after the publication
 * (plan-late.ts). Pure.
 */
export function promisedUpgrade(
  v: PlannedVersion,
  inst: Pick<ExplainedInstallation, 'id' | 'checkOffsetMs' | 'maintenance' | 'knownAt'>,
  policy: RolloutPolicy,
): PromisedUpgrade {
  const start = inst.knownAt !== null && inst.knownAt > v.publishedAt ? inst.knownAt : v.publishedAt;
  const { at: exactAt, due: dueAt } = automaticUpgradeAt({ ...v, publishedAt: start }, inst, policy);
  const bucketMs = v.kind === 'connect' ? policy.connectBucketMs : policy.forgeBucketMs;
  const at = lateBucketTime(exactAt, dueAt, start, v.publishedAt, bucketMs, inst.maintenance, policy.maintenanceCapMs);
  return { dueAt, exactAt, at };
}

/**
 * When the manual `v` shows "update available" to `inst` and its admins are notified: its next
 * daily check after the publication (or its registration), on the plan's bucket grid. Pure.
 */
export function promisedNotice(
  v: PlannedVersion,
  inst: Pick<ExplainedInstallation, 'checkOffsetMs' | 'knownAt'>,
  policy: RolloutPolicy,
): number {
  const start = inst.knownAt !== null && inst.knownAt > v.publishedAt ? inst.knownAt : v.publishedAt;
  const check = nextCheckAt(inst.checkOffsetMs, start, policy.checkIntervalMs);
  const bucketMs = v.kind === 'connect' ? policy.connectBucketMs : policy.forgeBucketMs;
  return lateBucketTime(check, check, start, v.publishedAt, bucketMs, null, bucketMs);
}

/**
 * Explains one installation at `input.now` (see `InstallationReason`). Walking the published
 * versions newer than the one it runs, oldest first: a halted or paused rollout's version is
 * passed over (upgrade batches do not move installations to it: app/rollout/ladder.ts), an
 * unapproved manual version needs approval and blocks every later one, and every other version
 * is promised at `promisedUpgrade` (an approved manual one at its approval, deferred by the
 * window). The version it should run is what an upgrade batch at the latest promise already
 * passed would choose (`decideTarget`): it is overdue when it runs an older one.
 * Pure.
 */
export function explainInstallation(input: ExplainInput): InstallationExplanation {
  const { installation: inst, policy, now } = input;
  const nextCheck = nextCheckAt(inst.checkOffsetMs, now + 1, policy.checkIntervalMs);
  const all = new VersionLadder(input.versions);
  const stopped = (v: string) => {
    const s = input.rollouts.get(v)?.status;
    return s === 'halted' || s === 'paused';
  };
  const halted = (v: string) => input.rollouts.get(v)?.status === 'halted';
  const latest = [...all.versions].reverse().find((v) => v.publishedAt <= now && !halted(v.version))?.version ?? null;
  const base = { installationId: inst.id, current: inst.version, latest, nextCheckAt: nextCheck };
  if (input.appRemoved) return { ...base, shouldRun: inst.version, reasons: [{ kind: 'app-removed' }] };

  const movable = new VersionLadder(input.versions.filter((v) => !stopped(v.version)));
  const approved = inst.approvedUpTo === null ? -1 : all.rank(inst.approvedUpTo);
  const from = all.rank(inst.version);
  const reasons: InstallationReason[] = [];
  const passed: number[] = []; // promise times already passed
  const ahead: { v: PlannedVersion; p: PromisedUpgrade }[] = []; // promises still to come
  let blockedBy: string | null = null;
  let heldBack: string | null = null;
  for (let i = Number.isNaN(from) ? all.versions.length : Math.floor(from) + 1; i < all.versions.length; i++) {
    const v = all.versions[i]!;
    if (v.publishedAt > now) break;
    const facts = input.rollouts.get(v.version);
    if (facts && (facts.status === 'halted' || facts.status === 'paused')) {
      reasons.push({
        kind: facts.status === 'halted' ? 'rollout-halted' : 'rollout-paused',
        version: v.version,
        by: facts.by ?? null,
        at: facts.at ?? null,
      });
      continue;
    }
    if (blockedBy !== null) {
      heldBack = v.version;
      continue;
    }
    if (v.approval === 'manual' && i > approved) {
      const notice = input.notices.get(v.version);
      const last = notice ? (notice.remindedAt.at(-1) ?? notice.notifiedAt) : null;
      reasons.push({
        kind: 'needs-approval',
        version: v.version,
        showsAt: promisedNotice(v, inst, policy),
        notifiedAt: notice?.notifiedAt ?? null,
        remindedAt: [...(notice?.remindedAt ?? [])],
        nextReminderAt: last === null ? null : last + input.reminderIntervalMs,
      });
      blockedBy = v.version;
      continue;
    }
    const phased = facts?.phased;
    let p = promisedUpgrade(v, inst, policy);
    if (phased) {
      // A phased release reaches the installation only once a phase covers its cohort; the
      // phase that did counts the window from its own start (the current phase's start is the
      // one kept, so a cohort released by an earlier phase keeps the publication's promise).
      const cohort = cohortOf(input.appId ?? '', inst.id);
      const percent = phasePercent(phased);
      if (!inCohort(cohort, percent)) {
        reasons.push({
          kind: 'phase-not-reached',
          version: v.version,
          cohort,
          percent,
          nextStepAt: phased.pausedAt === null ? phased.nextStepAt : null,
        });
        continue;
      }
      const previous = phased.phase > 0 ? phased.schedule.percents[phased.phase - 1]! : 0;
      if (!inCohort(cohort, previous) && phased.startedAt > v.publishedAt)
        p = promisedUpgrade({ ...v, publishedAt: phased.startedAt }, inst, policy);
    }
    const approvedAt = v.approval === 'manual' ? inst.approvedAt[v.version] : undefined;
    if (approvedAt !== undefined && approvedAt > p.at) {
      const at = deferForMaintenance(inst.maintenance, approvedAt, policy.maintenanceCapMs);
      p = { dueAt: approvedAt, exactAt: at, at };
    }
    if (p.at <= now) passed.push(p.at);
    else ahead.push({ v, p });
  }
  if (blockedBy !== null && heldBack !== null) reasons.push({ kind: 'blocked-behind', version: heldBack, blockedBy });

  const tau = passed.length ? Math.max(...passed) : null;
  const target = tau === null ? null : decideTarget(movable, inst.version, inst.approvedUpTo, tau).target;
  const shouldRun = target ?? inst.version;
  if (target !== null && tau !== null) reasons.unshift({ kind: 'overdue', version: target, dueAt: tau });
  // The next step: the earliest promise to come takes it to the newest version published by then.
  const next = ahead.sort((a, b) => a.p.at - b.p.at)[0];
  if (next) {
    const version = decideTarget(movable, shouldRun, inst.approvedUpTo, next.p.at).target ?? next.v.version;
    const waits: InstallationReason[] = [];
    if (next.p.dueAt > now) waits.push({ kind: 'waiting-for-check', version, checkAt: next.p.dueAt });
    const window = next.p.exactAt > next.p.dueAt ? windowAt(inst.maintenance, next.p.dueAt) : null;
    if (window) waits.push({ kind: 'deferred-by-window', version, dueAt: next.p.dueAt, until: next.p.at, window });
    reasons.unshift(...waits);
  }
  if (reasons.length === 0) reasons.push({ kind: 'up-to-date', version: inst.version });
  return { ...base, shouldRun, reasons };
}

/** What an installation's daily update check answers (UPM's check, DESIGN.md "Rollout rules"). */
export type UpdateCheckStatus = 'update' | 'approval-needed' | 'up-to-date' | 'app-removed';

/** The pure part of an update check's answer (the app layer adds the approval link). Times epoch ms. */
export interface UpdateCheck {
  installationId: string;
  status: UpdateCheckStatus;
  /** The version it runs. */
  current: string;
  /** The version to run now. */
  run: string;
  /** The newer version shown "update available" that needs its admins' approval, or null. */
  needsApproval: string | null;
  nextCheckAt: number;
}

/**
 * The answer of an update check at `now`: `update` (run `run`, newer than `current`: its promise
 * time has passed), else `approval-needed` (a manual version its admins have not approved,
 * shown from its first check after publication, the time its notice goes out), else
 * `up-to-date`; `app-removed` when its app is gone. Pure.
 */
export function updateCheckOf(e: InstallationExplanation, now: number): UpdateCheck {
  const pending = e.reasons.find(
    (r): r is Extract<InstallationReason, { kind: 'needs-approval' }> =>
      r.kind === 'needs-approval' && (r.notifiedAt !== null || r.showsAt <= now),
  );
  const status: UpdateCheckStatus = e.reasons.some((r) => r.kind === 'app-removed')
    ? 'app-removed'
    : e.shouldRun !== e.current
      ? 'update'
      : pending
        ? 'approval-needed'
        : 'up-to-date';
  return {
    installationId: e.installationId,
    status,
    current: e.current,
    run: e.shouldRun,
    needsApproval: pending?.version ?? null,
    nextCheckAt: e.nextCheckAt,
  };
}

const iso = (t: number) => new Date(t).toISOString();
const byWhom = (by: string | null, at: number | null) =>
  `${by ? ` by ${by}` : ''}${at !== null ? ` at ${iso(at)}` : ''}`;

/** One reason in words, with its times (ISO 8601 UTC). Pure. */
export function describeReason(r: InstallationReason): string {
  switch (r.kind) {
    case 'up-to-date':
      return `up to date: it runs ${r.version}, the newest version it may have`;
    case 'waiting-for-check':
      return `waiting for its next daily check at ${iso(r.checkAt)} to take ${r.version}`;
    case 'deferred-by-window':
      return `deferred by its maintenance window until ${iso(r.until)} (window ${describeWindowRef(r.window)}; due ${iso(r.dueAt)})`;
    case 'overdue':
      return `overdue: it should run ${r.version} since ${iso(r.dueAt)}; the reconciliation sweep upgrades it`;
    case 'needs-approval': {
      const notified =
        r.notifiedAt === null ? `shown at its check at ${iso(r.showsAt)}` : `admins notified at ${iso(r.notifiedAt)}`;
      const reminders = r.remindedAt.length ? `, reminded at ${r.remindedAt.map(iso).join(', ')}` : '';
      const next = r.nextReminderAt !== null ? `, next reminder at ${iso(r.nextReminderAt)}` : '';
      return `version ${r.version} needs its admins' approval (${notified}${reminders}${next})`;
    }
    case 'blocked-behind':
      return `${r.version} is blocked behind unapproved ${r.blockedBy} (an approval of ${r.blockedBy} or later takes it there)`;
    case 'rollout-paused':
      return `the rollout of ${r.version} is paused${byWhom(r.by, r.at)}`;
    case 'rollout-halted':
      return `the rollout of ${r.version} is halted${byWhom(r.by, r.at)}`;
    case 'phase-not-reached':
      return `phase not reached: ${r.version} is a phased release at ${r.percent} % and this installation's cohort is ${r.cohort.toFixed(1)} %${r.nextStepAt !== null ? `; the next phase starts at ${iso(r.nextStepAt)}` : ''}`;
    case 'app-removed':
      return 'its app was removed: nothing more is rolled out to it';
  }
}
