/**
 * Installations (DESIGN.md "Rollout rules"): register them (validated first; new ones planned
 * into rollouts in flight), generate a population (demo, benchmark), show one, and an admin's
 * approval of a manual version. Throws AppError; the HTTP API, the CLI and the demo call these.
 */
import semver from 'semver';
import { AppError, ErrorCode } from '../../lib/errors.js';
import { parseInstallationInput } from '../../rollout/installation-input.js';
import { generateInstallations, type GenerateOptions } from '../../rollout/generate-population.js';
import { decideTarget } from '../../rollout/version-ladder.js';
import { cohortOf } from '../../rollout/phased-release.js';
import { deferForMaintenance } from '../../rollout/windows.js';
import type { Installation } from '../../rollout/types.js';
import type { InstallationView } from '../../store/installation-store.js';
import type { RolloutContext } from '../context.js';
import { loadLadder } from './ladder.js';
import { scheduleLatePlanning } from './late-installations.js';
import { approveAdoption } from './adoption.js';
import { forgeAppLinkOf } from '../distribution/connect-bridge.js';

/** Outcome of an approval. Times epoch ms. */
export interface ApprovalResult {
  appId: string;
  installationId: string;
  /** Version it runs now. */
  current: string;
  approvedUpTo: string;
  /** Manual versions this approval approved (recorded in its history). */
  approvedVersions: string[];
  /** Version it will move to, or null when nothing is newer. */
  target: string | null;
  /** When the upgrade runs: now, or the end of its maintenance window (≤ 4 h). */
  upgradeAt: number | null;
  /**
   * The approval of a Connect installation's move to its Forge successor: the Connect app it
   * left (`appId` is then the Forge app, `target` its version); absent for other approvals.
   */
  adoptedFrom?: string;
}

/**
 * The Forge successor a Connect installation waits for: its "update available" names another
 * app (`<forge app>@<version>`, set by the adoption's notify batch). @returns null otherwise
 */
function awaitedSuccessor(appId: string, updateAvailable: string | null): { appId: string; version: string } | null {
  const at = updateAvailable?.lastIndexOf('@') ?? -1;
  if (!updateAvailable || at <= 0) return null;
  const successor = { appId: updateAvailable.slice(0, at), version: updateAvailable.slice(at + 1) };
  return successor.appId === appId ? null : successor;
}

/**
 * The approval of a Connect installation waiting for its Forge successor: it moves at once
 * (adoption.ts `approveAdoption`). @returns null when the installation waits for no successor,
 *   or `version` names another version than the one offered
 */
async function approveSuccessor(
  ctx: RolloutContext,
  installationId: string,
  appId: string,
  version: string | undefined,
): Promise<ApprovalResult | null> {
  const inst = await ctx.installs.get(installationId);
  const successor = awaitedSuccessor(appId, inst.updateAvailable);
  if (!successor || (version !== undefined && version !== successor.version)) return null;
  const moved = await approveAdoption(ctx, installationId, successor.appId, successor.version);
  ctx.logger.info(
    { event: 'adoption:approved', appId: successor.appId, installationId, from: appId, moved },
    `installation ${installationId} approved its move from ${appId} to ${successor.appId}@${successor.version}`,
  );
  return {
    appId: successor.appId,
    installationId,
    current: inst.version,
    approvedUpTo: successor.version,
    approvedVersions: [successor.version],
    target: successor.version,
    upgradeAt: moved ? ctx.clock.now() : null,
    adoptedFrom: appId,
  };
}

/**
 * Registers installations: validates all first (nothing is stored if one is bad): each must be
 * well formed and name a stored, published version of its app (`InstallationRefs`). New ones are
 * then planned into the rollouts whose plans had already read the installation list
 * (late-installations.ts): an installation registered on an older version while a rollout is in
 * flight is upgraded within its window, measured from now (DESIGN.md "Rollout rules").
 * Registering a known installation again changes nothing but its data (site, check, windows).
 * @throws AppError input-invalid (every problem in `details.problems`)
 */
export async function registerInstallations(
  ctx: RolloutContext,
  raw: readonly unknown[],
  where: (i: number) => string = (i) => `installation[${i}]`,
): Promise<{ created: number; updated: number }> {
  const parsed: Installation[] = [];
  const problems: string[] = [];
  const refs = new InstallationRefs();
  raw.forEach((r, i) => {
    try {
      parsed.push(parseInstallationInput(r, where(i)));
      refs.add(parsed.at(-1)!, where(i));
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
  });
  problems.push(...(await refs.check(ctx)));
  if (problems.length) {
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `${problems.length} invalid installation(s), nothing stored: ${problems.slice(0, 5).join(' | ')}${problems.length > 5 ? ' …' : ''}`,
      {
        details: { problems: problems.slice(0, 100) },
      },
    );
  }
  const r = await ctx.installs.register(parsed, ctx.clock.now());
  if (r.created > 0)
    await scheduleLatePlanning(
      ctx,
      parsed.map((i) => i.appId),
    );
  return r;
}

/** How many places `InstallationRefs` names for one bad (app, version) pair. */
const WHERE_SHOWN = 3;
/** Bad (app, version) pairs after which `InstallationRefs.check` stops reading (the input is refused anyway). */
const PROBLEMS_CHECKED = 100;

/**
 * The (app, version) pairs a batch of installations names, kept once each with the first places
 * that named it (so a streamed import of any size holds one entry per distinct pair, not per line),
 * then checked against the stored versions. An installation is stored only for a registered app
 * on a version that app has and has published (`detectedAt` ≤ now): an installation cannot run a
 * version the marketplace never published (DESIGN.md "Rollout rules": the history of which
 * installation ran which version is kept), and one of an unknown app could never be rolled out
 * nor removed with its app. Versions are read through the `versions` port, so a context whose
 * versions live in memory (demo, benchmark, tests) is checked the same way. An app with no stored
 * version is refused too: it is unknown, or registered and not yet polled.
 */
export class InstallationRefs {
  private readonly pairs = new Map<string, Map<string, { where: string[]; count: number; seq: number }>>();
  private seq = 0;

  /** Records that `where` (e.g. `line 12`, `body[3]`) names `inst.appId`@`inst.version`. */
  add(inst: Pick<Installation, 'appId' | 'version'>, where: string): void {
    let versions = this.pairs.get(inst.appId);
    if (!versions) this.pairs.set(inst.appId, (versions = new Map()));
    const ref = versions.get(inst.version);
    if (!ref) versions.set(inst.version, { where: [where], count: 1, seq: this.seq++ });
    else if (ref.count++ < WHERE_SHOWN) ref.where.push(where);
  }

  /**
   * Reads each named app's versions once and checks every pair.
   * @returns one problem per bad pair, naming where it was used, in input order (empty when all
   *   are stored and published); stops after 100 bad pairs
   */
  async check(ctx: Pick<RolloutContext, 'versions' | 'clock'>): Promise<string[]> {
    const problems: { seq: number; text: string }[] = [];
    const now = ctx.clock.now();
    for (const [appId, refs] of this.pairs) {
      if (problems.length >= PROBLEMS_CHECKED) break;
      const stored = await ctx.versions.listVersions(appId);
      const known = stored.map((v) => v.version);
      for (const [version, ref] of refs) {
        const more = ref.count > ref.where.length ? ` (and ${ref.count - ref.where.length} more)` : '';
        const at = `${ref.where.join(', ')}${more}`;
        const rec = stored.find((v) => v.version === version);
        const problem = (text: string) => problems.push({ seq: ref.seq, text: `${at}: ${text}` });
        if (stored.length === 0) problem(`app '${appId}' has no stored version (not registered, or not polled yet)`);
        else if (!rec)
          problem(
            `app '${appId}' has no version ${version} (stored: ${known.slice(-5).join(', ')}${known.length > 5 ? ' …' : ''})`,
          );
        else if (rec.detectedAt > now)
          problem(
            `version ${version} of app '${appId}' is not published until ${new Date(rec.detectedAt).toISOString()}`,
          );
      }
    }
    return problems
      .sort((a, b) => a.seq - b.seq)
      .slice(0, PROBLEMS_CHECKED)
      .map((p) => p.text);
  }
}

/**
 * Stores a generated population (`generateInstallations`) in batches of 5,000, without holding
 * it in memory, then enqueues its late planning once. For the demo and the benchmark.
 * @returns how many were new
 */
export async function generatePopulation(
  ctx: RolloutContext,
  opts: GenerateOptions,
  onProgress?: (done: number) => void,
): Promise<{ created: number; updated: number }> {
  let batch: Installation[] = [];
  const total = { created: 0, updated: 0 };
  const flush = async () => {
    const r = await ctx.installs.register(batch, ctx.clock.now());
    total.created += r.created;
    total.updated += r.updated;
    batch = [];
    onProgress?.(total.created + total.updated);
  };
  try {
    for (const inst of generateInstallations({ now: ctx.clock.now(), ...opts })) {
      batch.push(inst);
      if (batch.length >= 5000) await flush();
    }
    if (batch.length) await flush();
  } finally {
    // Once for the whole population (every batch is logged): its late installations are planned together.
    if (total.created > 0) await scheduleLatePlanning(ctx, [opts.appId]);
  }
  return total;
}

/** Why an approval approves nothing (`approvalRefusal`). */
type ApprovalRefusal = { reason: 'not-newer' | 'already-approved' | 'automatic'; message: string };

/**
 * An approval must approve at least one manual version the installation does not run yet;
 * otherwise it would only bring an automatic upgrade forward, skipping the installation's own
 * update check (DESIGN.md "Rollout rules": automatic versions wait for the daily check).
 * Ranks are `VersionLadder` ranks. @returns null when the approval approves something
 */
function approvalRefusal(
  current: string,
  chosen: string,
  from: number,
  chosenRank: number,
  prev: string | null,
  alreadyApproved: boolean,
  newly: readonly string[],
): ApprovalRefusal | null {
  if (!(chosenRank > from))
    return { reason: 'not-newer', message: `it runs ${current}, so ${chosen} is not an update it can take` };
  if (newly.length > 0) return null;
  if (alreadyApproved)
    return { reason: 'already-approved', message: `its admins already approved up to ${prev ?? chosen}` };
  return {
    reason: 'automatic',
    message: `${chosen} needs no approval: it is automatic and no manual version between ${current} and it awaits approval; it is installed at the installation's next update check`,
  };
}

/**
 * An admin approves `version` (default: the newest published) for one installation: its
 * approval covers every manual version up to it (recorded in its history), and it is upgraded
 * to the newest version it may now have, at once or at the end of its maintenance window
 * (≤ 4 h) [seed 003]. An approval that approves no manual version is refused. A Connect
 * installation shown its Forge successor ("update available: <forge app>@<version>") moves to
 * it instead, at once, when `version` is that Forge version or absent.
 * @throws AppError installation-not-found, version-not-found (unknown or not yet published),
 *   rollout-conflict (that version's rollout is paused or halted), approval-refused (the version
 *   is not newer than what it runs, is already approved, or is automatic with no manual version
 *   before it awaiting approval)
 */
export async function approveInstallation(
  ctx: RolloutContext,
  installationId: string,
  version?: string,
): Promise<ApprovalResult> {
  const appId = await ctx.installs.appOf(installationId);
  if (!appId)
    throw new AppError(
      ErrorCode.INSTALLATION_NOT_FOUND,
      `no installation '${installationId}' (see 'mpu installations list --app APP')`,
    );
  const adopted = await approveSuccessor(ctx, installationId, appId, version);
  if (adopted) return adopted;
  const now = ctx.clock.now();
  const ladder = await loadLadder(ctx, appId);
  const chosen = version ?? ladder.latestPublished(now)?.version;
  const rec = chosen === undefined ? undefined : ladder.versions.find((v) => v.version === chosen);
  if (version && !rec) {
    const st = await ctx.rollouts.status(appId, version);
    if (st === 'halted' || st === 'paused') {
      throw new AppError(
        ErrorCode.ROLLOUT_CONFLICT,
        `the rollout of ${appId}@${version} is ${st}: it cannot be approved${st === 'paused' ? ' until resumed' : ''}`,
      );
    }
  }
  if (!chosen || !rec || rec.publishedAt > now) {
    throw new AppError(
      ErrorCode.VERSION_NOT_FOUND,
      version ? `app ${appId} has no published version ${version}` : `app ${appId} has no published version yet`,
      {
        details: { appId, known: ladder.versions.map((v) => v.version) },
      },
    );
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const inst = await ctx.installs.get(installationId);
    const prev = inst.approvedUpTo;
    const next = prev && semver.valid(prev) && semver.gte(prev, chosen) ? prev : chosen;
    const from = ladder.rank(inst.version);
    const prevRank = prev ? ladder.rank(prev) : -1;
    const upTo = ladder.rank(next);
    const newly = ladder.versions
      .filter((v, i) => v.approval === 'manual' && i > from && i > prevRank && i <= upTo)
      .map((v) => v.version);
    const refusal = approvalRefusal(inst.version, chosen, from, ladder.rank(chosen), prev, prevRank >= upTo, newly);
    if (refusal) {
      throw new AppError(ErrorCode.APPROVAL_REFUSED, `installation ${installationId}: ${refusal.message}`, {
        details: { appId, installationId, version: chosen, current: inst.version, reason: refusal.reason },
      });
    }
    if (!(await ctx.installs.setApproved(appId, installationId, prev, next, newly, now))) continue;
    const d = decideTarget(
      ladder,
      inst.version,
      next,
      now,
      ladder.phases ? cohortOf(appId, installationId) : undefined,
    );
    let upgradeAt: number | null = null;
    if (d.target !== null) {
      upgradeAt = deferForMaintenance(inst.maintenance, now, ctx.rolloutPolicy.maintenanceCapMs);
      await ctx.enqueueUpgradeBatches([
        { v: 1, appId, version: d.target, dueAt: upgradeAt, source: { kind: 'ids', ids: [installationId] } },
      ]);
    }
    ctx.logger.info(
      { event: 'rollout:approved', appId, installationId, approvedUpTo: next, target: d.target, upgradeAt },
      `installation ${installationId} approved ${next}`,
    );
    return {
      appId,
      installationId,
      current: inst.version,
      approvedUpTo: next,
      approvedVersions: newly,
      target: d.target,
      upgradeAt,
    };
  }
  throw new AppError(
    ErrorCode.ROLLOUT_CONFLICT,
    `installation ${installationId} was approved concurrently; try again`,
    { retryable: true },
  );
}

/**
 * One installation with history and, for a Connect installation whose current version's
 * descriptor has one, its "Get the Forge app" link (`forgeAppLink`; seed 002).
 * @throws AppError installation-not-found
 */
export async function showInstallation(
  ctx: RolloutContext,
  id: string,
): Promise<InstallationView & { forgeAppLink: string | null }> {
  const inst = await ctx.installs.get(id);
  return { ...inst, forgeAppLink: await forgeAppLinkOf(ctx, inst) };
}
