/**
 * The versioning step: classifies a detected descriptor against
 * the app's latest version, allocates the next version number and stores it atomically with its
 * reasons, then hands it to the rollout planner. Idempotent: running it twice, or in two daemons
 * at once, stores one version (the store's compare-and-append on the latest version, and the
 * deployment id for Forge). Polled changes are versioned in detection order: one retried after a
 * later polled change of the app was decided is `superseded`, not appended after it.
 */
import { classifyChange, classifyDeploy, nextVersion } from '../../versioning/index.js';
import type { Classification, ClassifyOptions } from '../../versioning/index.js';
import { AppError, ErrorCode, isAppError } from '../../lib/errors.js';
import { parseStoredDescriptor } from '../../store/descriptor-store.js';
import type { VersionRecord } from '../../store/types.js';
import type { PlanRolloutJob, VersionJob } from '../../jobs/queues.js';
import type { DetectionDeps, KnownState } from './detection-deps.js';
import { createHandOff } from '../../lib/hand-off.js';

/** What the versioning step did. */
export type RecordVersionResult =
  | { status: 'created'; version: string; record: VersionRecord }
  /** Already versioned (same deployment, or a redelivered job): nothing new. */
  | { status: 'exists'; version: string }
  /** The descriptor makes no difference to the latest version (bump none): no version. */
  | { status: 'unchanged'; latest: string | null }
  /**
   * A polled change detected before a later polled change of the app was decided (a failed job
   * retried late, say): no version, or a descriptor the vendor no longer serves would become the
   * latest version after it, and the next poll's 304 would keep it so (VersionStore.storeVersion).
   */
  | { status: 'superseded'; versionedAt: number };

const MAX_CONFLICTS = 10;

/** The app was removed (`mpu apps remove`) while its change was being versioned. */
const removedWhileVersioning = (appId: string): AppError =>
  new AppError(
    ErrorCode.APP_NOT_FOUND,
    `app '${appId}' was removed while its change was being versioned: nothing stored`,
    { details: { appId } },
  );

/**
 * Runs the versioning step for `job`. `known`: what the poll that detected the change read (its
 * parsed descriptor, the latest version then), so the step does not read and parse it again;
 * the app's existence is then checked by the store's append.
 * @returns created / exists / unchanged, or superseded for a polled change detected before the
 *   app's latest decided polled change (VersionStore.storeVersion): nothing stored.
 * @throws AppError app-not-found (unknown app, or removed while this step ran: nothing is
 *   stored then, see VersionStore.storeVersion), version-not-found (descriptor not stored),
 *   descriptor-invalid (a stored descriptor no longer parses: a policy/engine change),
 *   rollout-conflict (retryable) when the latest version kept moving under it.
 */
export async function recordVersion(
  deps: DetectionDeps,
  job: VersionJob,
  known: KnownState = {},
): Promise<RecordVersionResult> {
  const knownAfter = known.after?.hash === job.descriptorHash ? known.after : undefined;
  // Independent reads together (one round trip on the stores' auto-pipelined connection).
  const [kind, afterText, firstLatest] = await Promise.all([
    knownAfter ? knownAfter.kind : deps.apps.requireApp(job.appId).then((a) => a.kind),
    knownAfter ? null : deps.descriptors.getDescriptorText(job.appId, job.descriptorHash),
    known.latest !== undefined ? known.latest : deps.versions.latestVersion(job.appId),
  ]);
  const after = knownAfter ?? parseStoredDescriptor(job.appId, job.descriptorHash, afterText, kind);
  // A Connect change is judged by the product the app was registered for, else an inferred one.
  // The poll's claim read it (`known.product`); a queued job reads the app record once.
  let classifyOpts: ClassifyOptions | undefined;
  const optionsFor = async (): Promise<ClassifyOptions> => {
    if (!classifyOpts) {
      const product =
        kind !== 'connect'
          ? undefined
          : known.product !== undefined
            ? (known.product ?? undefined)
            : (await deps.apps.getApp(job.appId))?.product;
      classifyOpts = product ? { product, productBy: "the app's registration" } : {};
    }
    return classifyOpts;
  };
  for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
    if (job.deploymentId !== undefined) {
      const existing = await deps.versions.deploymentVersion(job.appId, job.deploymentId);
      if (existing !== null && existing !== '-') {
        await deps.enqueuePlanRollout({ v: 1, appId: job.appId, version: existing });
        return { status: 'exists', version: existing };
      }
    }
    const latest = attempt === 0 ? firstLatest : await deps.versions.latestVersion(job.appId);
    // A redelivered change (a versioning batch run again, a late second daemon) whose descriptor
    // was versioned after its base, and other versions since: it is not new, and classifying it
    // against the newer latest would append an old descriptor out of order.
    if (
      job.deploymentId === undefined &&
      latest &&
      latest.version !== job.baseVersion &&
      latest.descriptorHash !== job.descriptorHash
    ) {
      const since = await versionedSince(deps, job);
      if (since !== null) {
        deps.logger.debug({ appId: job.appId, version: since, latest: latest.version }, 'version:already-versioned');
        return { status: 'exists', version: since };
      }
    }
    const before = latest ? await deps.descriptors.getDescriptor(job.appId, latest.descriptorHash, kind) : null;

    // No previous version: this descriptor is the initial version, nothing to classify against.
    const cls: Classification | null = before
      ? job.source === 'deploy'
        ? classifyDeploy(before, after, deps.policy, await optionsFor())
        : classifyChange(before, after, deps.policy, await optionsFor())
      : null;

    if (cls && cls.bump === 'none') {
      // Decided too: an older polled change retried after this one must not follow it. Only while
      // `latest` is still the latest version: one appended meanwhile is classified against.
      if (job.source === 'poll' && latest) {
        const marked = await deps.versions.markDecided(job.appId, job.detectedAt, latest.version);
        if (marked === 'conflict') continue;
        if (marked === 'gone') {
          throw removedWhileVersioning(job.appId);
        }
      }
      // A redelivered job whose version was stored before a crash: make sure the plan is queued.
      if (latest && latest.descriptorHash === job.descriptorHash) {
        await deps.enqueuePlanRollout({ v: 1, appId: job.appId, version: latest.version });
      }
      deps.logger.info({ appId: job.appId, latest: latest?.version ?? null }, 'version:unchanged');
      return { status: 'unchanged', latest: latest?.version ?? null };
    }
    const version = nextVersion(kind, latest?.version ?? null, cls?.bump ?? 'major');
    const record: VersionRecord = {
      appId: job.appId,
      kind,
      version,
      bump: latest ? cls!.bump : 'initial',
      // The first version has nothing to approve: it is what installations install.
      approval: latest ? cls!.approval : 'automatic',
      reasons: cls?.reasons ?? [],
      warnings: cls?.warnings ?? [],
      descriptorHash: job.descriptorHash,
      source: job.source,
      detectedAt: job.detectedAt,
      ...(job.deploymentId !== undefined ? { deploymentId: job.deploymentId } : {}),
    };
    const stored = await deps.versions.storeVersion(record, latest?.version ?? null, after.canonical);
    if (stored.status === 'gone') {
      throw removedWhileVersioning(job.appId);
    }
    if (stored.status === 'superseded') {
      deps.metrics?.versionsSuperseded.inc();
      deps.logger.warn(
        {
          appId: job.appId,
          descriptorHash: job.descriptorHash,
          detectedAt: job.detectedAt,
          versionedAt: stored.versionedAt,
        },
        'version:superseded: a later poll of this app was versioned already; this older change is not appended',
      );
      return { status: 'superseded', versionedAt: stored.versionedAt };
    }
    if (stored.status === 'conflict') {
      deps.logger.debug(
        { appId: job.appId, expected: latest?.version ?? null, latest: stored.latest },
        'version:conflict',
      );
      continue;
    }
    await deps.enqueuePlanRollout({ v: 1, appId: job.appId, version: stored.version });
    if (stored.status === 'exists') return { status: 'exists', version: stored.version };
    deps.metrics?.versions.inc({ kind, bump: record.bump, approval: record.approval });
    deps.metrics?.versionDelay.observe(
      { kind, source: job.source },
      Math.max(0, deps.clock.now() - job.detectedAt) / 1000,
    );
    deps.events?.emit('version:created', { appId: job.appId, version, bump: record.bump, approval: record.approval });
    deps.logger.info(
      {
        appId: job.appId,
        version,
        bump: record.bump,
        approval: record.approval,
        source: job.source,
        reasons: record.reasons.map((r) => r.detail),
      },
      'version:created',
    );
    return { status: 'created', version, record };
  }
  throw new AppError(ErrorCode.ROLLOUT_CONFLICT, `app '${job.appId}': the latest version kept changing; will retry`, {
    retryable: true,
    details: { appId: job.appId },
  });
}

/** The version after `job.baseVersion` (any, when null) that holds `job.descriptorHash`, or null. */
async function versionedSince(deps: DetectionDeps, job: VersionJob): Promise<string | null> {
  const all = await deps.versions.listVersions(job.appId);
  const from = job.baseVersion === null ? 0 : all.findIndex((v) => v.version === job.baseVersion) + 1;
  return all.slice(from).find((v) => v.descriptorHash === job.descriptorHash)?.version ?? null;
}

/** What a batch of versioning steps did (`recordVersionBatch`). */
export interface RecordVersionBatchResult {
  created: number;
  exists: number;
  unchanged: number;
  /** Changes a later polled change of the app had overtaken (`recordVersion`'s `superseded`). */
  superseded: number;
  /** Failed here and handed to a versioning job of their own (retried with backoff). */
  handedOff: number;
  /** Changes of apps no longer registered (removed meanwhile): dropped, with a log line. */
  gone: number;
}

export interface RecordVersionBatchDeps extends DetectionDeps {
  /** Enqueues several rollout plans at once (deterministic ids). */
  enqueuePlanRollouts(jobs: readonly PlanRolloutJob[]): Promise<void>;
}

/**
 * Runs the versioning step for several changes (a poll chunk's, inside the poll job; or a
 * queues.ts `VersionBatchJob` queued by a release that versioned chunks in a job of their own),
 * `known` holding what each change's poll read:
 * each with `recordVersion`, so each is classified, guarded by the store's compare-and-append and
 * idempotent on its own; an app's changes in order, different apps concurrently, and their
 * rollout plans enqueued together (one `addBulk`). A change that fails is handed, with the app's later changes, to a
 * versioning job of its own (`deps.enqueueVersion`, deterministic id; its descriptor, when
 * `known`, stored first), which retries it with backoff or fails visibly; a change of an app that
 * is no longer registered is dropped (`gone`). A change's descriptor given in `known` is stored
 * with its version (or before such a hand-off): the caller need not have stored it.
 * @throws an error only when such a hand-off cannot be enqueued (Redis): the batch is then
 *   retried, and the changes it had versioned are found versioned (idempotent).
 */
export async function recordVersionBatch(
  deps: RecordVersionBatchDeps,
  changes: readonly VersionJob[],
  known: ReadonlyMap<VersionJob, KnownState> = new Map(),
): Promise<RecordVersionBatchResult> {
  const out: RecordVersionBatchResult = { created: 0, exists: 0, unchanged: 0, superseded: 0, handedOff: 0, gone: 0 };
  const byApp = new Map<string, VersionJob[]>();
  for (const c of changes) byApp.set(c.appId, [...(byApp.get(c.appId) ?? []), c]);
  const plans = createHandOff<PlanRolloutJob>((jobs) => deps.enqueuePlanRollouts(jobs));
  const stepDeps: DetectionDeps = { ...deps, enqueuePlanRollout: (job) => plans.handOff(job) };
  let infraError: unknown;
  await Promise.all(
    [...byApp.values()].map(async (jobs) => {
      plans.begin();
      try {
        for (let i = 0; i < jobs.length; i++) {
          try {
            // What the poll knew of the latest version holds for an app's first change only.
            const k = known.get(jobs[i]!);
            out[
              (await recordVersion(stepDeps, jobs[i]!, i === 0 ? k : k && { after: k.after, product: k.product }))
                .status
            ]++;
          } catch (err) {
            const later = jobs.slice(i);
            if (isAppError(err, ErrorCode.APP_NOT_FOUND)) {
              // Removed (`mpu apps remove`): a job of its own would only fail the same way.
              deps.logger.info({ appId: jobs[i]!.appId, dropped: later.length }, 'version:app-gone');
              out.gone += later.length;
              return;
            }
            deps.logger.warn(
              { appId: jobs[i]!.appId, err: err instanceof Error ? err.message : String(err), handedOff: later.length },
              'version:handed-off',
            );
            try {
              for (const j of later) {
                // A queued job reads its descriptor from the store: a poll that handed its change
                // to this batch (`known.after`) left storing it to the version (PollDeps).
                const after = known.get(j)?.after;
                if (after?.hash === j.descriptorHash) await deps.descriptors.saveDescriptor(j.appId, after);
                await deps.enqueueVersion(j);
              }
              out.handedOff += later.length;
            } catch (e) {
              if (isAppError(e, ErrorCode.APP_NOT_FOUND)) {
                deps.logger.info({ appId: jobs[i]!.appId, dropped: later.length }, 'version:app-gone');
                out.gone += later.length;
                return;
              }
              infraError ??= e;
            }
            return;
          }
        }
      } finally {
        plans.end();
      }
    }),
  );
  if (infraError !== undefined) throw infraError;
  return out;
}
