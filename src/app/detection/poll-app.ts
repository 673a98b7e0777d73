/**
 * Polls one Connect app's descriptor (DESIGN.md "Detection rules").
 * A 304, or a descriptor equal (canonically) to the latest version's and to the last one polled,
 * is no change; any other is stored content-addressed and handed to the versioning step, which
 * decides against the latest version then (a descriptor equal to it creates nothing). A failed poll never
 * creates a version: the failure is counted and shown on the app, and the error is rethrown
 * so the worker retries the retryable ones with backoff.
 */
import { parseDescriptor } from '../../versioning/index.js';
import { AppError, ErrorCode, isAppError } from '../../lib/errors.js';
import type { PollJob, VersionJob } from '../../jobs/queues.js';
import type { PollClaim, PollTarget } from '../../store/app-store.js';
import type { DetectionDeps } from './detection-deps.js';
import type { ConditionalHeaders, FetchResult } from '../../poller/descriptor-fetcher.js';

/** The fetch port: `DescriptorFetcher` in production. */
export interface FetchesDescriptors {
  fetch(url: string, cond?: ConditionalHeaders): Promise<FetchResult>;
}

/** A successful poll. */
export interface PollAppResult {
  appId: string;
  outcome: 'changed' | 'unchanged' | 'not-modified';
  httpStatus: 200 | 304;
  /** Hash of the fetched descriptor (200 only). */
  hash?: string;
  /** The versioning job handed on (changed only). */
  versionJob?: VersionJob;
}

/** What a poll is given: the detection ports and a fetcher. */
export interface PollDeps extends DetectionDeps {
  fetcher: FetchesDescriptors;
  /**
   * The version hand-off (`enqueueVersion`) runs the versioning step in this process with the
   * parsed descriptor (`KnownState.after`), and that step stores the descriptor with its
   * version, or before handing the change to a job of its own (record-version.ts
   * `recordVersionBatch`): the poll then does not store it first. Otherwise (a queued job reads
   * it from the store) the poll stores it before the hand-off.
   */
  handOffStoresDescriptor?: boolean;
}

/**
 * Polls `appId` now.
 * @throws AppError app-not-found (also when the app is removed while it is polled: nothing is
 *   stored or recorded then); input-invalid for a Forge app; descriptor-fetch-failed /
 *   descriptor-fetch-refused from the fetch; descriptor-invalid when the body does not parse or
 *   fails the schema. Every other failure is first recorded on the app (`lastError`, counters).
 */
export async function pollApp(deps: PollDeps, appId: string): Promise<PollAppResult> {
  return pollLoadedApp(deps, await deps.apps.requireApp(appId));
}

/**
 * The claim a scheduled poll holds on its app's slot (AppStore.claimPolls): a success or a
 * permanent failure marks the slot done; a retryable failure passes the claim to `retryOwner`
 * (the retry job's id) when a retry follows, else marks it done too.
 */
export interface HeldClaim extends PollClaim {
  retryOwner?: string;
}

/**
 * Polls `app` as read from the store (by `pollApp`, or by the claim of a batch). Same outcome
 * and errors as `pollApp`; with `claim`, the result also settles the slot's claim, in the same
 * Redis round trip as the poll's record.
 */
export async function pollLoadedApp(deps: PollDeps, app: PollTarget, claim?: HeldClaim): Promise<PollAppResult> {
  const appId = app.id;
  if (app.kind !== 'connect' || !app.descriptorUrl) {
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `app '${appId}' is a Forge app: it is versioned by deploy events, not polled`,
    );
  }
  const url = app.descriptorUrl;
  // No child logger per poll, and debug lines' objects only built when they are written: at the
  // daemon's info level they cost nothing.
  const log = deps.logger;
  const debug = log.isLevelEnabled('debug');
  if (debug) log.debug({ appId, url }, 'poll:fetch');
  try {
    // The app's own `etag` / `lastModified` are the conditional request's validators.
    const res = await deps.fetcher.fetch(url, app);
    const at = deps.clock.now();
    if (res.status === 'not-modified') {
      await deps.apps.recordPollSuccess(appId, { at, outcome: 'not-modified', httpStatus: 304 }, claim);
      deps.metrics?.polls.inc({ outcome: 'not-modified' });
      deps.events?.emit('poll:polled', { appId, outcome: 'not-modified', at });
      if (debug) log.debug({ appId }, 'poll:fetched not-modified');
      return { appId, outcome: 'not-modified', httpStatus: 304 };
    }
    const parsed = parseDescriptor(res.body, { source: url, kind: 'connect' });
    // The latest version as the claim read it (kept on the app record by the version store);
    // from the history for records older than that field.
    const latest =
      app.latestHash !== undefined && app.latestVersion !== undefined
        ? { version: app.latestVersion, descriptorHash: app.latestHash }
        : await deps.versions.latestVersion(appId);
    const validators = { etag: res.etag, lastModified: res.lastModified };
    // Unchanged: the latest version's descriptor, and the one this app's last poll saw (when a
    // poll saw another descriptor whose versioning is still queued, this one is a change back).
    if (
      latest &&
      latest.descriptorHash === parsed.hash &&
      (app.lastSeenHash === undefined || app.lastSeenHash === parsed.hash)
    ) {
      await deps.apps.recordPollSuccess(
        appId,
        { at, outcome: 'unchanged', httpStatus: 200, hash: parsed.hash, ...validators },
        claim,
      );
      deps.metrics?.polls.inc({ outcome: 'unchanged' });
      deps.events?.emit('poll:polled', { appId, outcome: 'unchanged', at });
      if (debug) log.debug({ appId, version: latest.version }, 'poll:fetched unchanged');
      return { appId, outcome: 'unchanged', httpStatus: 200, hash: parsed.hash };
    }
    if (!deps.handOffStoresDescriptor) await deps.descriptors.saveDescriptor(appId, parsed);
    const versionJob: VersionJob = {
      v: 1,
      appId,
      source: 'poll',
      descriptorHash: parsed.hash,
      baseVersion: latest?.version ?? null,
      detectedAt: at,
    };
    await deps.enqueueVersion(versionJob, {
      after: parsed,
      latest: latest ? { version: latest.version, descriptorHash: latest.descriptorHash } : null,
      product: app.product ?? null,
    });
    // Validators are kept only once the change is safely handed on, so a crash before this
    // point re-fetches the full body next time instead of seeing a 304.
    await deps.apps.recordPollSuccess(
      appId,
      { at, outcome: 'changed', httpStatus: 200, hash: parsed.hash, ...validators },
      claim,
    );
    deps.metrics?.polls.inc({ outcome: 'changed' });
    deps.events?.emit('poll:polled', { appId, outcome: 'changed', at });
    log.info({ appId, hash: parsed.hash, baseVersion: latest?.version ?? null }, 'poll:fetched changed');
    return { appId, outcome: 'changed', httpStatus: 200, hash: parsed.hash, versionJob };
  } catch (err) {
    if (isAppError(err, ErrorCode.APP_NOT_FOUND)) {
      // Removed while this poll was in flight (`mpu apps remove`): nothing to record it on.
      log.info({ appId }, 'poll:gone');
      throw err;
    }
    const e =
      err instanceof AppError
        ? err
        : new AppError(ErrorCode.DESCRIPTOR_FETCH_FAILED, `poll of '${appId}' failed: ${String(err)}`, {
            retryable: true,
            cause: err,
          });
    const httpStatus = typeof e.details?.httpStatus === 'number' ? e.details.httpStatus : undefined;
    const settle = claim && {
      slot: claim.slot,
      owner: claim.owner,
      handOffTo: e.retryable ? claim.retryOwner : undefined,
    };
    await deps.apps.recordPollFailure(
      appId,
      { at: deps.clock.now(), error: `${e.code}: ${e.message}`, httpStatus },
      settle,
    );
    deps.metrics?.polls.inc({ outcome: 'failed' });
    deps.events?.emit('poll:polled', { appId, outcome: 'failed', at: deps.clock.now() });
    deps.metrics?.pollFailures.inc({ code: e.code });
    log.warn({ appId, code: e.code, retryable: e.retryable, err: e.message }, 'poll:failed');
    throw e;
  }
}

/**
 * One single-app poll job (`PollJob`): a manual poll (`mpu poll`, no claim), or the retry of a
 * chunk's scheduled poll, which holds that slot's claim under its own job id (`data.claim`). The
 * retry keeps the claim while attempts are left (`lastAttempt` false), so a later attempt can
 * still poll the slot; its last attempt ends the slot whatever happens.
 * @returns the poll's result, or `skipped` when the slot is another's (`taken`) or the app is no
 *   longer registered (`gone`, also when it is removed while polled).
 * @throws AppError as `pollApp`.
 */
export async function pollSingle(
  deps: PollDeps,
  data: PollJob,
  opts: { lastAttempt: boolean },
): Promise<PollAppResult | { appId: string; skipped: 'taken' | 'gone' }> {
  if (data.claim === undefined || typeof data.slot !== 'number') return pollApp(deps, data.appId);
  const [c] = await deps.apps.claimPolls(data.claim, [{ appId: data.appId, slot: data.slot }]);
  if (c!.status !== 'claimed') return { appId: data.appId, skipped: c!.status };
  const retryOwner = opts.lastAttempt ? undefined : data.claim;
  try {
    return await pollLoadedApp(deps, c!.app, { slot: data.slot, owner: data.claim, retryOwner });
  } catch (err) {
    if (isAppError(err, ErrorCode.APP_NOT_FOUND)) return { appId: data.appId, skipped: 'gone' };
    throw err;
  }
}
