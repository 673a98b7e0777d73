/**
 * Queue names, job names and job payloads in one place (STYLE.md). Job data outlives deploys, so
 * each payload carries `v` and is parsed at the start of its processor. BullMQ job ids may not
 * contain `:` and may not be integers: build them with `jobIdPart`.
 *
 * Fields for people (`…Iso` times, `installations` counts) are optional and only shown by
 * bull-board: jobs queued by an older release, without them, still parse, no processor reads
 * them, and no job id depends on them. The dispatcher (src/workers/job-dispatcher.ts) adds them.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const QueueName = {
  /** Connect descriptor polls: a job per chunk of due apps (scheduler), per retry or manual poll. */
  poll: 'descriptor-poll',
  /** Classify a detected descriptor/manifest and allocate its version. */
  version: 'versioning',
  /** Plan and drive the rollout of one version; upgrade batches. */
  rollout: 'rollout',
  /** Admin notifications for versions that need approval. */
  notify: 'notify',
} as const;

/**
 * BullMQ's `prefix` for the store prefix `prefix`: on a Redis Cluster it is a hash tag,
 * `{<prefix>}`, since BullMQ's Lua scripts touch several keys of a queue, which must share a slot
 * (BullMQ docs, "Redis Cluster"); the four queues then share that slot. On one server it is
 * `prefix` itself.
 */
export function queuePrefixFor(prefix: string, cluster: boolean): string {
  return cluster && !/^\{.*\}$/.test(prefix) ? `{${prefix}}` : prefix;
}

/** Job enqueued by the versioning worker once a version is stored: the rollout plans it. */
export const PlanRolloutJob = z.object({
  v: z.literal(1),
  appId: z.string().min(1),
  version: z.string().min(1),
});
export type PlanRolloutJob = z.infer<typeof PlanRolloutJob>;
export const PLAN_ROLLOUT_JOB_NAME = 'plan-rollout';

/** A Forge app ARI, the one kind of app id with characters a job id may not hold (`:`, `/`). */
const FORGE_ARI_ID = /^ari:cloud:ecosystem::app\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
/** What a Forge ARI becomes; any other input that would read the same is escaped. */
const FORGE_PART = /^forge-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const utf8 = new TextEncoder();

/** Whether the `_` at `offset` of `s` has a character other than `_` on both sides. */
function isLoneInnerUnderscore(s: string, offset: number): boolean {
  const before = s[offset - 1];
  const after = s[offset + 1];
  return before !== undefined && before !== '_' && after !== undefined && after !== '_';
}

/**
 * Makes a string readable and safe inside a BullMQ job id (no `:`, never an integer), one to one
 * so distinct inputs stay distinct:
 * - a Forge app ARI `ari:cloud:ecosystem::app/<uuid>` (lower-case uuid) → `forge-<uuid>`;
 * - letters, digits, `.`, `-` and a `_` between two other characters pass as they are (Connect
 *   keys, versions, client keys); a `_` next to another `_` or at either end is escaped, so no
 *   part holds `__` or starts or ends with `_`, and parts joined with `__` split back one way
 *   (`a__b` + `c` and `a` + `b__c` would otherwise both read `a__b__c`);
 * - any other character becomes `~` and two hex digits per UTF-8 byte (`:` → `~3a`, `é` →
 *   `~c3~a9`): fixed width, so an escape never runs into the next character;
 * - an input that would pass as it is and read `forge-<uuid>` gets its `f` escaped (`~66orge-…`)
 *   so it never meets an ARI's part.
 *
 * Job ids must stay the same for the same job: they make a second enqueue of it a no-op. This
 * scheme replaced `~<hex code point>` escapes (an ARI read `ari~3acloud~3aecosystem~3a~3aapp~2f…`),
 * so a job queued by an older release and enqueued again by a newer one (a redelivered plan, a
 * second daemon's scheduler tick during a rolling deploy) gets a new id and runs twice. That is
 * harmless: every step compares and sets (versions, plans, upgrades, notices), so the second run
 * finds its work done.
 */
export function jobIdPart(s: string): string {
  const ari = FORGE_ARI_ID.exec(s);
  if (ari) return `forge-${ari[1]}`;
  const escaped = s.replace(/[^A-Za-z0-9.-]/gu, (c, offset: number) =>
    c === '_' && isLoneInnerUnderscore(s, offset)
      ? c
      : [...utf8.encode(c)].map((b) => `~${b.toString(16).padStart(2, '0')}`).join(''),
  );
  return FORGE_PART.test(escaped) ? `~66${escaped.slice(1)}` : escaped;
}

/** Deterministic id: a second daemon's or a retry's enqueue of the same plan is a no-op. */
export const planRolloutJobId = (j: PlanRolloutJob): string => `plan__${jobIdPart(j.appId)}__${jobIdPart(j.version)}`;

// ── detection and versioning ─────────────────────────────────────────────

/**
 * Poll one Connect app's descriptor. `slot` is the poll slot number, or `manual-<ms>` (`mpu poll`).
 * `claim`: the retry of a scheduled poll that failed inside a batch, holding that slot's claim
 * (the app's `pollClaim`, see AppStore.claimPolls) under this job's id; absent for manual polls.
 */
export const PollJob = z.object({
  v: z.literal(1),
  appId: z.string().min(1),
  slot: z.union([z.number().int(), z.string().min(1)]),
  claim: z.string().min(1).optional(),
});
export type PollJob = z.infer<typeof PollJob>;
export const POLL_JOB_NAME = 'poll-descriptor';
/** One poll per app per slot, whichever daemon enqueues it. */
export const pollJobId = (j: Pick<PollJob, 'appId' | 'slot'>): string =>
  `poll__${jobIdPart(j.appId)}__${jobIdPart(String(j.slot))}`;

/**
 * The scheduled polls of one tick, in chunks (`pollBatchSize` apps per job): per-job queue cost
 * is paid once per chunk instead of once per app. Each app's poll of its slot is still claimed
 * on its own record before it is fetched, so two daemons' overlapping chunks poll it once.
 */
export const PollBatchJob = z.object({
  v: z.literal(1),
  polls: z
    .array(z.object({ appId: z.string().min(1), slot: z.number().int() }))
    .min(1)
    .max(10_000),
});
export type PollBatchJob = z.infer<typeof PollBatchJob>;
export const POLL_BATCH_JOB_NAME = 'poll-descriptors';
/**
 * Deterministic id from the chunk's content (app ids and slots, in order): two daemons that
 * read the same due apps enqueue the same job, and the second enqueue is a no-op.
 */
export const pollBatchJobId = (j: PollBatchJob): string => {
  const h = createHash('sha256');
  for (const p of j.polls) h.update(`${p.appId}\n${p.slot}\n`);
  return `polls__${j.polls.length}__${h.digest('hex').slice(0, 40)}`;
};

/**
 * Classify a detected descriptor (stored content-addressed under `descriptorHash`) against the
 * app's latest version and store the next version. `baseVersion` is the latest version when the
 * change was detected (null before the first): it keeps A → B → A distinct jobs.
 */
export const VersionJob = z.object({
  v: z.literal(1),
  appId: z.string().min(1),
  source: z.enum(['poll', 'deploy', 'cli']),
  descriptorHash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  baseVersion: z.string().nullable(),
  /** Forge deployment id (deploy source). */
  deploymentId: z.string().min(1).optional(),
  /** When the change was detected (epoch ms). */
  detectedAt: z.number().int(),
  /** `detectedAt` as ISO 8601, for people reading the queue (optional: older jobs lack it). */
  detectedAtIso: z.string().optional(),
});
export type VersionJob = z.infer<typeof VersionJob>;
export const VERSION_JOB_NAME = 'classify-version';
/** Deploys: one job per deployment id. Polls: one job per (latest version, new descriptor). */
export const versionJobId = (j: VersionJob): string =>
  j.deploymentId !== undefined
    ? `version__${jobIdPart(j.appId)}__deploy__${jobIdPart(j.deploymentId)}`
    : `version__${jobIdPart(j.appId)}__${jobIdPart(j.baseVersion ?? 'initial')}__${j.descriptorHash.slice('sha256:'.length)}`;

/**
 * The changes one poll chunk detected, versioned by one job (per-job queue cost paid once per
 * chunk). Each change is a `VersionJob` (hashes, not descriptor bodies) and is versioned on its
 * own and idempotently, an app's changes in order; a change that fails is handed to a single
 * `VersionJob` of its own (`versionJobId`), retried with backoff.
 */
export const VersionBatchJob = z.object({
  v: z.literal(1),
  changes: z.array(VersionJob).min(1).max(10_000),
});
export type VersionBatchJob = z.infer<typeof VersionBatchJob>;
export const VERSION_BATCH_JOB_NAME = 'classify-versions';
/** Deterministic id from the changes (their single-job ids, in order): a second enqueue is a no-op. */
export const versionBatchJobId = (j: VersionBatchJob): string => {
  const h = createHash('sha256');
  for (const c of j.changes) h.update(`${versionJobId(c)}\n`);
  return `versions__${j.changes.length}__${h.digest('hex').slice(0, 40)}`;
};

// ── rollout: upgrade batches, notifications ─────────────────────────────────────────

/**
 * Options of every upgrade batch job: retried on failure (Redis hiccup) with backoff, since a
 * redelivered batch is harmless (compare-and-set); kept a while for dashboards.
 */
export const UPGRADE_JOB_OPTS = Object.freeze({
  attempts: 10,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 7 * 86_400, count: 10_000 },
  removeOnFail: { age: 30 * 86_400 },
});

/**
 * Where an upgrade batch finds its installations: a range of one planned bucket (a Redis list
 * written by the planner, so the job stays small), explicit ids (an admin's approval), or the
 * ids of late installations (registered after the version's plan; see rollout/plan-late.ts:
 * such a batch stands in for every older version the installations missed, so it still runs
 * when its version is halted, and applies what it can while it is paused).
 */
export const UpgradeBatchSource = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('bucket'),
    /** The bucket's time (epoch ms). */
    at: z.number().int(),
    /** First and last position (inclusive: `start: 0, end: 0` is one installation). */
    start: z.number().int().min(0),
    end: z.number().int().min(0),
  }),
  /**
   * A range of the app's installation list itself: the plan's bucket of kind `installations`
   * (RolloutStore.planInstallationList), when every installation gets the same step at `at`.
   */
  z.object({
    kind: z.literal('installations'),
    /** The bucket's time (epoch ms). */
    at: z.number().int(),
    /** First and last position in the installation list (inclusive). */
    start: z.number().int().min(0),
    end: z.number().int().min(0),
  }),
  z.object({ kind: z.literal('ids'), ids: z.array(z.string().min(1)).min(1).max(5000) }),
  z.object({ kind: z.literal('late'), ids: z.array(z.string().min(1)).min(1).max(5000) }),
  /** Installations a phase of a phased release released (rollout/phased-release.ts): as `ids`. */
  z.object({
    kind: z.literal('phase'),
    phase: z.number().int().min(0),
    ids: z.array(z.string().min(1)).min(1).max(5000),
  }),
]);

/**
 * Wakes the upgrade decider for one batch of installations at `dueAt` (epoch ms, clock time).
 * The processor recomputes each installation's target from the store and `clock.now()` and
 * applies it with a compare-and-set, so early, late or repeated runs are harmless.
 */
export const UpgradeBatchJob = z.object({
  v: z.literal(1),
  appId: z.string().min(1),
  /** The rollout (version) this batch belongs to; installations may go to a newer one. */
  version: z.string().min(1),
  dueAt: z.number().int(),
  source: UpgradeBatchSource,
  /** `dueAt` as ISO 8601, for people (optional: older jobs lack it). */
  dueAtIso: z.string().optional(),
  /** How many installations the batch covers, for people (optional: older jobs lack it). */
  installations: z.number().int().min(0).optional(),
});
export type UpgradeBatchJob = z.infer<typeof UpgradeBatchJob>;
export const UPGRADE_BATCH_JOB_NAME = 'upgrade-batch';

/** How many installations an upgrade batch covers (a bucket range is inclusive). */
export const upgradeBatchSize = (j: UpgradeBatchJob): number =>
  j.source.kind === 'bucket' || j.source.kind === 'installations'
    ? j.source.end - j.source.start + 1
    : j.source.ids.length;

/** How many installations a notify batch covers. */
export const notifyBatchSize = (j: NotifyBatchJob): number => (j.ids ? j.ids.length : j.end - j.start + 1);

/** Epoch ms as ISO 8601, or undefined for a time outside the Date range. */
export const isoTime = (ms: number): string | undefined => {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
};
/** A short digest of a list of ids (job ids of batches that carry their ids). */
export const idsDigest = (ids: readonly string[]): string =>
  createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 32);

/**
 * One job per bucket range (start and end: a plan restarted after a crash may cut ranges
 * differently, and every new range must get its job); an approval: one per installation and
 * target version; late installations: one per version, time and set of ids (a late planner that
 * runs twice on the same installations enqueues the same jobs; on different ones, new jobs).
 */
export const upgradeBatchJobId = (j: UpgradeBatchJob): string =>
  j.source.kind === 'bucket'
    ? `upgrade__${jobIdPart(j.appId)}__${jobIdPart(j.version)}__${j.source.at}__${j.source.start}-${j.source.end}`
    : j.source.kind === 'installations'
      ? `upgrade-list__${jobIdPart(j.appId)}__${jobIdPart(j.version)}__${j.source.at}__${j.source.start}-${j.source.end}`
      : j.source.kind === 'late'
        ? `late-upgrade__${jobIdPart(j.appId)}__${jobIdPart(j.version)}__${j.dueAt}__${j.source.ids.length}__${idsDigest(j.source.ids)}`
        : j.source.kind === 'phase'
          ? `phase-upgrade__${jobIdPart(j.appId)}__${jobIdPart(j.version)}__${j.source.phase}__${j.dueAt}__${j.source.ids.length}__${idsDigest(j.source.ids)}`
          : `approve__${jobIdPart(j.appId)}__${jobIdPart(j.version)}__${jobIdPart(j.source.ids[0]!)}__${j.source.ids.length}`;

/** Shows "update available" and notifies admins of one range of a manual version's notify bucket. */
export const NotifyBatchJob = z.object({
  v: z.literal(1),
  appId: z.string().min(1),
  version: z.string().min(1),
  /** Bucket time = when these installations' next update check is (epoch ms). */
  at: z.number().int(),
  start: z.number().int().min(0),
  end: z.number().int().min(0),
  /** Late installations (rollout/plan-late.ts): these ids instead of the bucket range. */
  ids: z.array(z.string().min(1)).min(1).max(5000).optional(),
  /** `at` as ISO 8601, for people (optional: older jobs lack it). */
  atIso: z.string().optional(),
  /** How many installations the batch covers, for people (optional: older jobs lack it). */
  installations: z.number().int().min(0).optional(),
});
export type NotifyBatchJob = z.infer<typeof NotifyBatchJob>;
export const NOTIFY_BATCH_JOB_NAME = 'notify-admins';
export const notifyBatchJobId = (j: NotifyBatchJob): string =>
  j.ids
    ? `late-notify__${jobIdPart(j.appId)}__${jobIdPart(j.version)}__${j.at}__${j.ids.length}__${idsDigest(j.ids)}`
    : `notify__${jobIdPart(j.appId)}__${jobIdPart(j.version)}__${j.at}__${j.start}-${j.end}`;

/**
 * Plans the app's late installations (registered after a version's plan read the installation
 * list; rollout/plan-late.ts): reads the app's registration log from its head, so one job
 * handles every registration logged before it runs. Enqueued after each registration call (and
 * at the end of each plan, for a registration whose enqueue was lost), delayed a little so that
 * a burst of registrations (an import) is planned in one go.
 */
export const LatePlanJob = z.object({
  v: z.literal(1),
  appId: z.string().min(1),
});
export type LatePlanJob = z.infer<typeof LatePlanJob>;
export const LATE_PLAN_JOB_NAME = 'plan-late-installations';
/**
 * `registered` is the length of the app's registration list when the job was enqueued: a job
 * with this id can only have been enqueued once every registration below it was logged, so a
 * second enqueue with the same id (a no-op) loses nothing.
 */
export const latePlanJobId = (appId: string, registered: number): string =>
  `late-plan__${jobIdPart(appId)}__${registered}`;

/**
 * The reconciliation sweep (app/rollout/reconcile.ts): one repeatable job on the rollout queue,
 * every `reconcileIntervalMs` (BullMQ job scheduler `RECONCILE_SCHEDULER_ID`: one per queue,
 * whichever daemons upsert it, so the sweep runs once per interval across all of them).
 */
export const ReconcileJob = z.object({ v: z.literal(1) });
export type ReconcileJob = z.infer<typeof ReconcileJob>;
export const RECONCILE_JOB_NAME = 'reconcile-rollouts';
/** The job scheduler's id (BullMQ keeps one scheduler per id and queue). */
export const RECONCILE_SCHEDULER_ID = 'reconcile-rollouts';

// ── bulk major-version upgrades (app/rollout/bulk-upgrades.ts) ──────────────────────────

/**
 * Plans a bulk upgrade: lists the installations of its scope on the source major (resumable at
 * its cursor) and enqueues a batch per range of them. One job per bulk upgrade.
 */
export const BulkPlanJob = z.object({
  v: z.literal(1),
  appId: z.string().min(1),
  bulkId: z.string().min(1),
});
export type BulkPlanJob = z.infer<typeof BulkPlanJob>;
export const BULK_PLAN_JOB_NAME = 'plan-bulk-upgrade';
export const bulkPlanJobId = (j: BulkPlanJob): string => `bulk-plan__${jobIdPart(j.appId)}__${jobIdPart(j.bulkId)}`;

/**
 * Moves candidates `start … end` (inclusive) of a bulk upgrade, due at `dueAt` (clock ms); a
 * maintenance window defers an installation from there (at most 4 h) and the job sleeps until
 * then. Every installation's outcome is recorded once, so a redelivered batch changes nothing.
 */
export const BulkBatchJob = z.object({
  v: z.literal(1),
  appId: z.string().min(1),
  bulkId: z.string().min(1),
  start: z.number().int().min(0),
  end: z.number().int().min(0),
  dueAt: z.number().int(),
  /** `dueAt` as ISO 8601, for people (optional). */
  dueAtIso: z.string().optional(),
  /** How many installations the batch covers, for people (optional). */
  installations: z.number().int().min(0).optional(),
});
export type BulkBatchJob = z.infer<typeof BulkBatchJob>;
export const BULK_BATCH_JOB_NAME = 'bulk-upgrade-batch';
/** One job per candidate range of one bulk upgrade (ranges are cut at fixed multiples of the batch size). */
export const bulkBatchJobId = (j: BulkBatchJob): string =>
  `bulk__${jobIdPart(j.appId)}__${jobIdPart(j.bulkId)}__${j.start}-${j.end}`;

// ── Connect to Forge adoption (app/rollout/adoption.ts) ──────────────────────────

/**
 * One batch of a Connect to Forge adoption: at `at` (clock ms) its installations still on the
 * Connect app move to `forgeAppId@version` when their installed Connect version is eligible
 * (`move`), or are shown "update available" and wait for approval (`notify`). The ids travel in
 * the payload (the adoption plan writes no buckets); every move is a compare-and-set, once per
 * adoption, so a batch run early, late or twice changes nothing more.
 */
export const AdoptionBatchJob = z.object({
  v: z.literal(1),
  /** The adopting Forge app (its ARI) and version. */
  forgeAppId: z.string().min(1),
  version: z.string().min(1),
  /** The Connect app it adopts (its key). */
  connectAppId: z.string().min(1),
  kind: z.enum(['move', 'notify']),
  at: z.number().int(),
  ids: z.array(z.string().min(1)).min(1).max(5000),
  /** `at` as ISO 8601, for people (optional). */
  atIso: z.string().optional(),
  /** How many installations the batch covers, for people (optional). */
  installations: z.number().int().min(0).optional(),
});
export type AdoptionBatchJob = z.infer<typeof AdoptionBatchJob>;
export const ADOPTION_BATCH_JOB_NAME = 'adoption-batch';
/**
 * One job per adoption, kind, time and set of ids: a redelivered plan, planning the same
 * installations, enqueues the same jobs (no-ops); a plan that finds other installations adds
 * new jobs, harmless since every move and notice is recorded once.
 */
export const adoptionBatchJobId = (j: AdoptionBatchJob): string =>
  `adopt__${jobIdPart(j.forgeAppId)}__${jobIdPart(j.version)}__${j.kind}__${j.at}__${j.ids.length}__${idsDigest(j.ids)}`;

// ── phased releases (app/rollout/phased-release.ts) ──────────────────────────

/**
 * Starts phase `phase` of a phased release when it is due (the rollout's `nextStepAt`, which a
 * pause moves later; the job sleeps until then) and plans the cohort slice it releases. Enqueued
 * for `at` (clock ms): by the plan or the previous phase for the scheduled step, by an operator's
 * advance or complete for now. A phase reached already is only released (again: its batches have
 * deterministic ids), never stepped twice.
 */
export const PhaseStepJob = z.object({
  v: z.literal(1),
  appId: z.string().min(1),
  version: z.string().min(1),
  /** Index of the phase in the schedule's percentages (0 is the first, planned with the rollout). */
  phase: z.number().int().min(1),
  at: z.number().int(),
  /** `at` as ISO 8601, for people (optional). */
  atIso: z.string().optional(),
});
export type PhaseStepJob = z.infer<typeof PhaseStepJob>;
export const PHASE_STEP_JOB_NAME = 'phase-step';
/** One job per rollout, phase and planned start: a redelivered plan or step enqueues the same. */
export const phaseStepJobId = (j: PhaseStepJob): string =>
  `phase__${jobIdPart(j.appId)}__${jobIdPart(j.version)}__${j.phase}__${j.at}`;

/**
 * Resumes a phased release whose pause began at `pausedAt` once the total pause reaches its cap
 * (at `at`, clock ms; Apple: 30 days), unless it was resumed (or paused again) meanwhile.
 */
export const PauseCapJob = z.object({
  v: z.literal(1),
  appId: z.string().min(1),
  version: z.string().min(1),
  pausedAt: z.number().int(),
  at: z.number().int(),
  /** `at` as ISO 8601, for people (optional). */
  atIso: z.string().optional(),
});
export type PauseCapJob = z.infer<typeof PauseCapJob>;
export const PAUSE_CAP_JOB_NAME = 'pause-cap';
/** One job per pause of a rollout. */
export const pauseCapJobId = (j: PauseCapJob): string =>
  `pause-cap__${jobIdPart(j.appId)}__${jobIdPart(j.version)}__${j.pausedAt}`;
