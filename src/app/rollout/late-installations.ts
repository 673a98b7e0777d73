/**
 * Late installations, the I/O around the pure `LatePlanContext` (rollout/plan-late.ts; DESIGN.md
 * "Rollout rules": every installation gets an automatic version within its window, manual ones
 * on approval, "impossible to make lose an update"). An installation registered after a
 * version's plan read the installation list would otherwise never be planned for that version.
 *
 * How each installation is planned exactly once, by the plan or here, never zero times:
 * 1. Registration (`InstallationStore.register`, one Lua call per 2,000) appends the new ids to
 *    the app's registration list and, in the same atomic call, logs their positions and the
 *    registration time in the app's registration log. A logged registration cannot be lost.
 * 2. A plan covers exactly the positions below its final cursor: it ends (atomically, in
 *    `RolloutStore.finishPlanning`) only when its cursor has reached the end of the list, and
 *    otherwise reads on. An installation registered while a plan runs is read by that plan.
 * 3. This planner reads the log from its head. Then, per version: a plan that had not finished
 *    when its state was read will cover every position that exists (they were logged before, so
 *    the list was already that long); a finished plan covered the positions below its cursor,
 *    and only the positions at or above it are planned here. Each position is thus on exactly one
 *    side. The handled entries are then dropped from the log with a compare-and-set on its head.
 * 4. Batches carry their ids and have job ids derived from version, time and ids: a retry, a
 *    second job or a second daemon that handles the same entries enqueues the same jobs (no-ops).
 *    Only when an installation's state changed in between (it was upgraded, approved) can a
 *    second run plan it differently; its batches' compare-and-set still moves it at most once.
 * Registering an installation again creates nothing: no log entry, no job (it keeps its plan).
 *
 * Connect to Forge adoption (DESIGN.md "Connect to Forge adoption" and "Rollout rules": no
 * installation may miss an update; adoption.ts, rollout/plan-adoption.ts). A late Connect
 * installation also joins the adoption of the Forge app that adopts its app, once that adoption
 * is planned (the adopting version's plan has finished and is not halted: the adoption plan runs
 * after it and reads every installation registered by then): judged by its installed Connect
 * version (verdicts cached per version), it gets an adoption batch, `move` at a slot in what
 * remains of the window from its registration (due at once after the window; maintenance defers
 * ≤ 4 h) or `notify` ("update available" for the Forge version, it moves on approval).
 * - Never zero: one registered after the adoption plan read the list is logged after that plan's
 *   version finished, so the planner that takes its entry from the log sees the adoption.
 * - Exactly once from here: the log entry is handled once, and a redelivered job enqueues the same
 *   adoption jobs (ids from adoption, kind, time and ids). One registered before the adoption plan
 *   read the list but whose entry is handled only after that plan's version finished is in both
 *   the plan and here (the adoption plan records no cursor): harmless, as the store records each
 *   move once per adoption (`adoptInstallations`) and each notice once, both inside the window.
 *
 * Batching: one job plans every registration logged before it runs (an import of 100,000
 * installations is a few jobs, see `latePlanDelayMs`), grouped like the planner's buckets: one
 * batch job per version, kind and bucket time, of at most `batchSize` installations.
 */
import { LatePlanContext, type FinishedPlan, type LateStep } from '../../rollout/plan-late.js';
import { deferralEntry } from '../../rollout/plan-rollout.js';
import { encodeHistoryEntry } from '../../rollout/installation-history.js';
import type { PlannedVersion } from '../../rollout/types.js';
import type { PendingRegistration } from '../../store/installation-store.js';
import { planAdoptionStep, type AdoptionBucket } from '../../rollout/plan-adoption.js';
import type { AdoptionBatchJob, LatePlanJob, NotifyBatchJob, UpgradeBatchJob } from '../../jobs/queues.js';
import type { LatePlanRequest, RolloutContext } from '../context.js';
import { toPlannedVersion } from './ladder.js';
import { adoptionOfApp, eligibilityJudge, type Adoption } from './adoption.js';

/** Result of one late-planning job (also its BullMQ return value, shown on dashboards). */
export interface LatePlanResult {
  appId: string;
  /** Registration calls (log entries) handled. */
  registrations: number;
  /** Installations read: those not planned by every finished plan. */
  considered: number;
  /** Installations given a late upgrade / a late "update available" notice. */
  upgrades: number;
  notifies: number;
  /** Late Connect installations given an adoption `move` / an adoption notice (module documentation). */
  adoptionMoves: number;
  adoptionNotices: number;
  /** Upgrade, notify and adoption batch jobs enqueued (one already there counts: enqueueing it again is a no-op). */
  batches: number;
}

/** Log entries read per round (each is one registration call of at most 2,000 installations). */
const LOG_ENTRIES_PER_ROUND = 256;

/**
 * Enqueues the late planning of `appIds` (after a registration call, or at the end of a plan),
 * `latePlanDelayMs` from now. Idempotent: the job id names the app's registration count (see
 * `latePlanJobId`), so calling it twice with nothing registered in between adds nothing.
 */
export async function scheduleLatePlanning(
  ctx: Pick<RolloutContext, 'installs' | 'enqueueLatePlanning'>,
  appIds: Iterable<string>,
): Promise<void> {
  const requests: LatePlanRequest[] = [];
  for (const appId of new Set(appIds)) {
    const registered = await ctx.installs.count(appId);
    if (registered > 0) requests.push({ appId, registered });
  }
  if (requests.length) await ctx.enqueueLatePlanning(requests);
}

/** The late planner's view of one app: versions (halted ones left out) and the finished plans. */
export async function loadLatePlan(
  ctx: Pick<RolloutContext, 'versions' | 'rollouts' | 'rolloutPolicy'>,
  appId: string,
): Promise<LatePlanContext> {
  const records = await ctx.versions.listVersions(appId);
  const states = await ctx.rollouts.planStates(
    appId,
    records.map((r) => r.version),
  );
  const versions: PlannedVersion[] = [];
  const finished: FinishedPlan[] = [];
  records.forEach((r, i) => {
    const st = states[i];
    if (st?.status === 'halted') return; // a halted version is nobody's target and blocks nothing (as in loadLadder)
    versions.push(toPlannedVersion(r));
    if (st && st.plannedAt !== null) finished.push({ version: r.version, planEnd: st.planCursor });
  });
  return new LatePlanContext(versions, finished, ctx.rolloutPolicy);
}

/**
 * The planned adoption late installations of `appId` join, or null: `appId` is not a Connect app
 * adopted by a Forge app, or the adopting version's plan has not finished (the adoption plan, run
 * after it, will read them) or is halted.
 */
export async function lateAdoptionOf(
  ctx: Pick<RolloutContext, 'apps' | 'versions' | 'descriptors' | 'rollouts'>,
  appId: string,
): Promise<Adoption | null> {
  const a = await adoptionOfApp(ctx, appId);
  if (!a || a.connectAppId !== appId) return null;
  const [st] = await ctx.rollouts.planStates(a.forgeAppId, [a.version]);
  return st && st.plannedAt !== null && st.status !== 'halted' ? a : null;
}

/**
 * Plans the app's late installations: every registration in its log, round by round (at most
 * `latePlanRoundSize` installations in memory), then drops the handled entries. See the module
 * documentation for why each installation is planned exactly once.
 */
export async function planLateInstallations(ctx: RolloutContext, data: LatePlanJob): Promise<LatePlanResult> {
  const { appId } = data;
  const res: LatePlanResult = {
    appId,
    registrations: 0,
    considered: 0,
    upgrades: 0,
    notifies: 0,
    adoptionMoves: 0,
    adoptionNotices: 0,
    batches: 0,
  };
  // Verdicts per adopting version, cached across rounds (one per Connect version).
  const judges = new Map<string, (connectVersion: string) => Promise<boolean>>();
  for (;;) {
    const pending = await ctx.installs.pendingRegistrations(appId, LOG_ENTRIES_PER_ROUND);
    if (pending.length === 0) break;
    let take = 0;
    let size = 0;
    while (take < pending.length && (take === 0 || size + span(pending[take]!) <= ctx.settings.latePlanRoundSize))
      size += span(pending[take++]!);
    const round = pending.slice(0, take);
    // Plan states are read after the log: a plan not finished now will read every logged position
    // (and so will an adoption plan whose version's plan has not finished).
    const plan = await loadLatePlan(ctx, appId);
    const adoption = await lateAdoptionOf(ctx, appId);
    const eligible = adoption ? (judges.get(adoption.version) ?? eligibilityJudge(ctx, adoption)) : null;
    if (adoption && eligible) judges.set(adoption.version, eligible);
    const adopt = new Map<string, AdoptionBucket>();
    const groups = new Map<string, { kind: LateStep['kind']; version: string; at: number; ids: string[] }>();
    // Maintenance deferrals of the late upgrades, per version: kept in their histories when applied.
    const deferrals = new Map<string, Map<string, string>>();
    for (const r of round) {
      // Positions below every finished plan's end were planned by all of them: nothing to read,
      // unless they join an adoption.
      for (let s = adoption ? r.start : Math.max(r.start, plan.minPlanEnd); s <= r.end;) {
        const { read, inputs } = await ctx.installs.readChunk(
          appId,
          s,
          Math.min(ctx.settings.planChunkSize, r.end - s + 1),
        );
        if (read === 0) break;
        s += read;
        res.considered += inputs.length;
        for (const inst of inputs) {
          for (const step of plan.steps({ ...inst, knownAt: r.at })) {
            const key = `${step.kind}\n${step.version}\n${step.at}`;
            let g = groups.get(key);
            if (!g) groups.set(key, (g = { kind: step.kind, version: step.version, at: step.at, ids: [] }));
            g.ids.push(inst.id);
            if (step.kind === 'upgrade') {
              res.upgrades++;
              const d = deferralEntry(step.version, step, inst.maintenance);
              if (d) {
                let m = deferrals.get(step.version);
                if (!m) deferrals.set(step.version, (m = new Map()));
                m.set(inst.id, encodeHistoryEntry(d));
              }
            } else res.notifies++;
          }
          if (adoption && eligible) {
            const forge = { version: adoption.version, publishedAt: adoption.publishedAt };
            const input = { id: inst.id, connectVersion: inst.version, maintenance: inst.maintenance };
            const ok = await eligible(inst.version);
            const step = planAdoptionStep(input, ok, forge, ctx.rolloutPolicy, r.at);
            const key = `${step.kind}:${step.at}`;
            let b = adopt.get(key);
            if (!b) adopt.set(key, (b = { kind: step.kind, at: step.at, ids: [] }));
            b.ids.push(inst.id);
            if (step.kind === 'move') res.adoptionMoves++;
            else res.adoptionNotices++;
          }
        }
      }
    }
    for (const [version, m] of deferrals) await ctx.installs.recordDeferrals(appId, version, m);
    res.batches += await enqueueLateBatches(ctx, appId, [...groups.values()]);
    if (adoption) res.batches += await enqueueLateAdoption(ctx, adoption, [...adopt.values()]);
    res.registrations += take;
    // False when a concurrent late planner dropped them first: it enqueued the same jobs.
    await ctx.installs.ackRegistrations(appId, round[0]!.entry, take);
  }
  if (res.registrations > 0) {
    const { registrations, upgrades, notifies } = res;
    ctx.events.emit('rollout:late:planned', { appId, registrations, upgrades, notifies });
    const adopted = res.adoptionMoves + res.adoptionNotices;
    ctx.logger.info(
      { event: 'rollout:late:planned', ...res },
      `late installations of ${appId}: ${res.upgrades} upgrade(s), ${res.notifies} notice(s)` +
        (adopted ? `, ${res.adoptionMoves} adoption move(s), ${res.adoptionNotices} adoption notice(s)` : '') +
        ` in ${res.batches} batch(es)`,
    );
  }
  return res;
}

function span(r: PendingRegistration): number {
  return Math.max(0, r.end - r.start + 1);
}

/** Enqueues one job per group part of at most `batchSize` ids. @returns how many. */
async function enqueueLateBatches(
  ctx: RolloutContext,
  appId: string,
  groups: { kind: LateStep['kind']; version: string; at: number; ids: string[] }[],
): Promise<number> {
  const bs = Math.max(1, Math.min(5000, ctx.settings.batchSize));
  const upgrades: UpgradeBatchJob[] = [];
  const notifies: NotifyBatchJob[] = [];
  for (const g of groups.sort((a, b) => a.at - b.at)) {
    for (let i = 0; i < g.ids.length; i += bs) {
      const ids = g.ids.slice(i, i + bs);
      if (g.kind === 'upgrade')
        upgrades.push({ v: 1, appId, version: g.version, dueAt: g.at, source: { kind: 'late', ids } });
      else notifies.push({ v: 1, appId, version: g.version, at: g.at, start: 0, end: ids.length - 1, ids });
    }
  }
  await ctx.enqueueUpgradeBatches(upgrades);
  await ctx.enqueueNotifyBatches(notifies);
  return upgrades.length + notifies.length;
}

/**
 * Enqueues the adoption batches of late Connect installations, at most `batchSize` ids each
 * (job ids derive from adoption, kind, time and ids: a redelivery enqueues the same). @returns how many.
 */
async function enqueueLateAdoption(ctx: RolloutContext, a: Adoption, buckets: AdoptionBucket[]): Promise<number> {
  const bs = Math.max(1, Math.min(5000, ctx.settings.batchSize));
  const jobs: AdoptionBatchJob[] = [];
  for (const b of buckets.sort((x, y) => x.at - y.at || x.kind.localeCompare(y.kind)))
    for (let i = 0; i < b.ids.length; i += bs)
      jobs.push({
        v: 1,
        forgeAppId: a.forgeAppId,
        version: a.version,
        connectAppId: a.connectAppId,
        kind: b.kind,
        at: b.at,
        ids: b.ids.slice(i, i + bs),
      });
  await ctx.enqueueAdoptionBatches(jobs);
  return jobs.length;
}
