/**
 * "Why is this installation not on the latest version?" and its update check, as an operator
 * or the installation sees them (`mpu installations why`, `GET /v1/installations/:id/why` and
 * `/update-check`): reads the installation, its app's versions, rollout states (with who paused
 * or halted them, from the audit trail when given) and notices, and hands them to the pure
 * `explainInstallation` (src/rollout/explain-installation.ts). Throws AppError.
 */
import {
  describeReason,
  explainInstallation,
  updateCheckOf,
  type InstallationExplanation,
  type RolloutFacts,
  type UpdateCheck,
} from '../../rollout/explain-installation.js';
import type { AuditEntry } from '../../store/audit-store.js';
import type { RolloutContext } from '../context.js';
import { toPlannedVersion } from './ladder.js';

/** Reads the audit trail (who paused or halted a rollout); the store's `list`. */
export interface AuditReader {
  list(opts: { appId?: string; limit: number }): Promise<AuditEntry[]>;
}

/** An explanation with the app and each reason in words. */
export interface InstallationWhy extends InstallationExplanation {
  appId: string;
  /** `describeReason` of each reason, in order. */
  words: string[];
}

/** The answer of `GET /v1/installations/:id/update-check`. Times epoch ms. */
export interface UpdateCheckAnswer extends UpdateCheck {
  appId: string;
  /** When the check was answered. */
  checkedAt: number;
  /** The approval link of `needsApproval` for this installation's admins, or null (no version, or no approval secret). */
  approvalUrl: string | null;
  approvalExpiresAt: number | null;
  /** The answer in words. */
  message: string;
}

/** Audit entries read to find who paused or halted a rollout (newest first). */
const AUDIT_LOOKBACK = 500;

async function rolloutFacts(
  ctx: Pick<RolloutContext, 'rollouts'>,
  appId: string,
  versions: readonly string[],
  audit: AuditReader | undefined,
): Promise<Map<string, RolloutFacts>> {
  const [statuses, phases] = await Promise.all([
    ctx.rollouts.statuses(appId, versions),
    ctx.rollouts.phaseStates(appId, versions),
  ]);
  const out = new Map<string, RolloutFacts>();
  const stopped = versions.filter((_, k) => statuses[k] === 'paused' || statuses[k] === 'halted');
  const entries = stopped.length && audit ? await audit.list({ appId, limit: AUDIT_LOOKBACK }) : [];
  versions.forEach((v, k) => {
    const status = statuses[k];
    if (!status) return;
    const action = status === 'paused' ? 'rollout.pause' : status === 'halted' ? 'rollout.halt' : null;
    const e = action
      ? entries.find((x) => x.action === action && x.target.version === v && x.outcome === 'ok')
      : undefined;
    out.set(v, { status, by: e?.actor ?? null, at: e?.atMs ?? null, phased: phases[k] ?? null });
  });
  return out;
}

/**
 * Explains one installation at `clock.now()` (see `explainInstallation`).
 * @throws AppError installation-not-found
 */
export async function whyInstallation(
  ctx: Pick<RolloutContext, 'installs' | 'versions' | 'rollouts' | 'notices' | 'clock' | 'rolloutPolicy' | 'settings'>,
  id: string,
  audit?: AuditReader,
): Promise<InstallationWhy> {
  const inst = await ctx.installs.get(id);
  const now = ctx.clock.now();
  const records = await ctx.versions.listVersions(inst.appId);
  const versions = records.map(toPlannedVersion);
  const names = versions.map((v) => v.version);
  const manual = versions.filter((v) => v.approval === 'manual').map((v) => v.version);
  const [rollouts, notices] = await Promise.all([
    rolloutFacts(ctx, inst.appId, names, audit),
    ctx.notices.forInstallation(inst.appId, id, manual),
  ]);
  const approvedAt: Record<string, number> = {};
  for (const e of inst.history)
    if (e.kind === 'approved' && approvedAt[e.version] === undefined) approvedAt[e.version] = e.at;
  const registered = inst.history.find((e) => e.kind === 'registered');
  const e = explainInstallation({
    installation: {
      id,
      version: inst.version,
      checkOffsetMs: inst.checkOffsetMs,
      maintenance: inst.maintenance,
      approvedUpTo: inst.approvedUpTo,
      knownAt: registered?.at ?? null,
      approvedAt,
    },
    versions,
    rollouts,
    notices,
    policy: ctx.rolloutPolicy,
    reminderIntervalMs: ctx.settings.approvalReminderIntervalMs,
    now,
    appRemoved: records.length === 0,
    appId: inst.appId,
  });
  return { ...e, appId: inst.appId, words: e.reasons.map(describeReason) };
}

/**
 * What the installation's daily update check answers now (UPM's check): the version to run, or
 * "update available: X needs your admin's approval" with the approval link, or "up to date",
 * and when its next check is.
 * @throws AppError installation-not-found
 */
export async function updateCheck(
  ctx: Pick<
    RolloutContext,
    'installs' | 'versions' | 'rollouts' | 'notices' | 'clock' | 'rolloutPolicy' | 'settings' | 'approvalLinks'
  >,
  id: string,
): Promise<UpdateCheckAnswer> {
  const why = await whyInstallation(ctx, id);
  const now = ctx.clock.now();
  const u = updateCheckOf(why, now);
  const link =
    u.needsApproval !== null
      ? (ctx.approvalLinks?.issue({ installationId: id, appId: why.appId, version: u.needsApproval }, now) ?? null)
      : null;
  const next = new Date(u.nextCheckAt).toISOString();
  const message =
    u.status === 'update'
      ? `run ${u.run} now (it runs ${u.current}); next check at ${next}`
      : u.status === 'approval-needed'
        ? `update available: ${u.needsApproval} needs your admin's approval${link ? ` (${link.url})` : ''}; it runs ${u.current}; next check at ${next}`
        : u.status === 'app-removed'
          ? `its app ${why.appId} was removed: no updates`
          : `up to date: ${u.current}; next check at ${next}`;
  return {
    ...u,
    appId: why.appId,
    checkedAt: now,
    approvalUrl: link?.url ?? null,
    approvalExpiresAt: link?.expiresAt ?? null,
    message,
  };
}
