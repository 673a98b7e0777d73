/**
 * The Connect to Forge adoption rollout (DESIGN.md "Connect to Forge adoption"): a Forge app
 * whose production manifest names a registered Connect app (`app.connect.key`) is its
 * successor; at the Forge app's first version each Connect installation is judged against its
 * *installed* Connect descriptor (the stored descriptor of the Connect version it runs, through
 * the pure verdict src/versioning/adoption.ts, cached per Connect version: thousands of
 * installations share a few versions). Eligible ones (approval `automatic`) move progressively
 * over `rolloutPolicy.adoptionWindowMs` (src/rollout/plan-adoption.ts, maintenance windows
 * defer); the others show "update available" (`<forge app>@<version>`) and move on approval.
 *
 * Each move is the store's compare-and-set (InstallationStore.adoptInstallations): once per
 * adoption, from the Connect version judged, so a batch run early, late or twice changes nothing
 * more. A batch re-judges each installation by the Connect version it runs when the batch runs.
 */
import { AppError, ErrorCode } from '../../lib/errors.js';
import { planAdoptionChunk, type AdoptionBucket } from '../../rollout/plan-adoption.js';
import { connectKeyOf, judgeAdoption } from '../../versioning/adoption.js';
import type { ParsedDescriptor } from '../../versioning/types.js';
import type { AdoptionMove } from '../../store/installation-store.js';
import type { VersionReader } from '../../store/types.js';
import type { AppContext } from '../context.js';

/** What the adoption use cases read. */
export type AdoptionContext = Pick<
  AppContext,
  | 'clock'
  | 'logger'
  | 'apps'
  | 'descriptors'
  | 'installs'
  | 'policy'
  | 'rolloutPolicy'
  | 'settings'
  | 'notifier'
  | 'approvalLinks'
> & { versions: VersionReader };

/** The adoption a Forge version starts: the Connect app it adopts and the version's publication. */
export interface Adoption {
  forgeAppId: string;
  version: string;
  connectAppId: string;
  publishedAt: number;
  manifest: ParsedDescriptor;
}

/** One batch of an adoption plan: `move` (eligible, due at `at`) or `notify` installations. */
export interface AdoptionBatch extends AdoptionBucket {
  forgeAppId: string;
  version: string;
  connectAppId: string;
}

/**
 * The adoption `forgeAppId@version` starts, or null: not a Forge app's first version, its
 * manifest names no Connect app, or the named Connect app is not registered (its app id is its
 * key, as `mpu apps add connect` registers it).
 */
export async function findAdoption(
  ctx: Pick<AdoptionContext, 'apps' | 'versions' | 'descriptors'>,
  forgeAppId: string,
  version: string,
): Promise<Adoption | null> {
  const [first] = await ctx.versions.listVersions(forgeAppId);
  if (!first || first.kind !== 'forge' || first.version !== version) return null;
  const manifest = await ctx.descriptors.getDescriptor(forgeAppId, first.descriptorHash, 'forge');
  const key = connectKeyOf(manifest);
  const connect = key === undefined ? null : await ctx.apps.getApp(key);
  if (!connect || connect.kind !== 'connect') return null;
  return { forgeAppId, version, connectAppId: connect.id, publishedAt: first.detectedAt, manifest };
}

/**
 * Judges Connect versions against the adopting manifest, once each: `true` when the move needs
 * no approval. A version whose descriptor cannot be read or judged is not eligible (default-deny:
 * its installations wait for approval), and the problem is logged once.
 */
export function eligibilityJudge(ctx: AdoptionContext, a: Adoption): (connectVersion: string) => Promise<boolean> {
  const cache = new Map<string, Promise<boolean>>();
  const product = ctx.apps.getApp(a.connectAppId).then((r) => r?.product);
  const judge = async (v: string): Promise<boolean> => {
    try {
      const rec = await ctx.versions.getVersion(a.connectAppId, v);
      if (!rec) throw new AppError(ErrorCode.VERSION_NOT_FOUND, `no version ${v} of ${a.connectAppId}`);
      const descriptor = await ctx.descriptors.getDescriptor(a.connectAppId, rec.descriptorHash, 'connect');
      const p = await product;
      const verdict = judgeAdoption(
        descriptor,
        a.manifest,
        ctx.policy,
        p ? { product: p, productBy: 'registration' } : {},
      );
      return verdict.approval === 'automatic';
    } catch (err) {
      ctx.logger.warn(
        { event: 'adoption:judge:failed', appId: a.connectAppId, version: v, err },
        `cannot judge ${a.connectAppId}@${v} against ${a.forgeAppId}@${a.version}: its installations wait for approval`,
      );
      return false;
    }
  };
  return (v) => {
    let p = cache.get(v);
    if (!p) cache.set(v, (p = judge(v)));
    return p;
  };
}

/**
 * Plans the adoption: every Connect installation in a `move` batch at its slot, or in a `notify`
 * batch at publication, at most `settings.batchSize` ids a batch. Deterministic for the same
 * installations and versions (batches carry their ids; a re-plan yields the same batches).
 */
export async function planAdoption(ctx: AdoptionContext, a: Adoption): Promise<AdoptionBatch[]> {
  const eligible = eligibilityJudge(ctx, a);
  const forge = { version: a.version, publishedAt: a.publishedAt };
  const byKey = new Map<string, AdoptionBucket>();
  const chunk = ctx.settings.planChunkSize;
  const total = await ctx.installs.count(a.connectAppId);
  for (let offset = 0; offset < total; offset += chunk) {
    const page = await ctx.installs.list(a.connectAppId, offset, chunk);
    const verdicts = new Map<string, boolean>();
    for (const v of new Set(page.map((i) => i.version))) verdicts.set(v, await eligible(v));
    const inputs = page.map((i) => ({ id: i.id, connectVersion: i.version, maintenance: i.maintenance }));
    for (const b of planAdoptionChunk(inputs, (v) => verdicts.get(v) ?? false, forge, ctx.rolloutPolicy)) {
      const key = `${b.kind}:${b.at}`;
      const o = byKey.get(key);
      if (o) o.ids.push(...b.ids);
      else byKey.set(key, { ...b, ids: [...b.ids] });
    }
  }
  const out: AdoptionBatch[] = [];
  const size = ctx.settings.batchSize;
  for (const b of [...byKey.values()].sort((x, y) => x.at - y.at || x.kind.localeCompare(y.kind)))
    for (let i = 0; i < b.ids.length; i += size)
      out.push({
        ...b,
        ids: b.ids.slice(i, i + size),
        forgeAppId: a.forgeAppId,
        version: a.version,
        connectAppId: a.connectAppId,
      });
  ctx.logger.info(
    {
      event: 'adoption:planned',
      appId: a.forgeAppId,
      version: a.version,
      connectAppId: a.connectAppId,
      batches: out.length,
    },
    `planned the adoption of ${a.connectAppId} by ${a.forgeAppId}@${a.version}: ${out.length} batches`,
  );
  return out;
}

/**
 * Plans the adoption `forgeAppId@version` starts, if any, and hands its batches to the job
 * port (the plan job of a Forge version calls this once its own rollout is planned). Idempotent:
 * the plan is deterministic and the batch job ids derive from it, so a redelivered plan enqueues
 * the same jobs.
 * @returns the adoption and its batch count, or null when the version adopts nothing
 */
export async function startAdoption(
  ctx: AdoptionContext & Pick<AppContext, 'enqueueAdoptionBatches'>,
  forgeAppId: string,
  version: string,
): Promise<{ adoption: Adoption; batches: number } | null> {
  const a = await findAdoption(ctx, forgeAppId, version);
  if (!a) return null;
  const batches = await planAdoption(ctx, a);
  await ctx.enqueueAdoptionBatches(batches.map((b) => ({ v: 1, ...b })));
  return { adoption: a, batches: batches.length };
}

/** What an adoption batch did, or when to run it. */
export type AdoptionBatchResult =
  | { kind: 'wait'; reason: 'not-due'; until: number }
  | { kind: 'done'; moved: number; notified: number; alreadyMoved: number };

/**
 * Applies one batch at `clock.now()`: installations still on the Connect app whose installed
 * version is eligible move (a `notify` batch moves none), the others are shown "update
 * available: <forge app>@<version>" (once). A lost compare-and-set (the installation upgraded
 * meanwhile) is judged again by its new version, up to 5 times.
 * @throws AppError rollout-conflict (retried) when versions keep changing under it
 */
export async function applyAdoptionBatch(ctx: AdoptionContext, b: AdoptionBatch): Promise<AdoptionBatchResult> {
  const now = ctx.clock.now();
  if (now < b.at) return { kind: 'wait', reason: 'not-due', until: b.at };
  const a = await findAdoption(ctx, b.forgeAppId, b.version);
  if (!a) return { kind: 'done', moved: 0, notified: 0, alreadyMoved: 0 };
  const eligible = eligibilityJudge(ctx, a);
  let moved = 0;
  let alreadyMoved = 0;
  let open = b.ids;
  const waiting: string[] = [];
  for (let attempt = 0; open.length > 0; attempt++) {
    if (attempt >= 5)
      throw new AppError(
        ErrorCode.ROLLOUT_CONFLICT,
        `adoption batch of ${a.forgeAppId}@${a.version}: versions keep changing`,
        {
          retryable: true,
        },
      );
    const { versions } = await ctx.installs.readStates(a.connectAppId, open);
    const moves: AdoptionMove[] = [];
    for (let k = 0; k < open.length; k++) {
      const v = versions[k];
      if (!v) continue; // no longer on the Connect app (moved, or removed)
      if (b.kind === 'move' && (await eligible(v))) moves.push({ id: open[k]!, expected: v, cause: 'automatic' });
      else waiting.push(open[k]!);
    }
    const r = await ctx.installs.adoptInstallations(a.connectAppId, a.forgeAppId, a.version, moves, now);
    moved += r.moved;
    alreadyMoved += r.done;
    if (r.conflicts === 0) break;
    const movedIds = new Set(moves.map((m) => m.id));
    open = open.filter((id) => movedIds.has(id));
  }
  const offer = `${a.forgeAppId}@${a.version}`;
  // Only those not shown the offer yet are notified: a batch run twice notifies once.
  const shown = await ctx.installs.readAvailable(a.connectAppId, waiting);
  const fresh = waiting.filter((_, k) => shown[k] !== offer);
  if (fresh.length > 0) await notifyWaiting(ctx, a, fresh, now);
  const notified = await ctx.installs.markUpdateAvailable(a.connectAppId, waiting, offer, now);
  ctx.logger.info(
    { event: 'adoption:batch:applied', appId: a.forgeAppId, version: a.version, moved, notified, alreadyMoved },
    `adoption batch of ${a.forgeAppId}@${a.version}: ${moved} of ${b.ids.length} moved from ${a.connectAppId}`,
  );
  return { kind: 'done', moved, notified, alreadyMoved };
}

/**
 * Delivers "update available" for the Forge version to the admins of Connect installations
 * that wait for approval (deliver first, then mark, as for a manual version: a failed delivery
 * is retried with the job). Each approval link names the installation's Connect app, as the
 * installation belongs to it, and the Forge version it approves the move to.
 */
async function notifyWaiting(ctx: AdoptionContext, a: Adoption, ids: string[], now: number): Promise<void> {
  const sites = await ctx.installs.readSites(a.connectAppId, ids);
  await ctx.notifier.notify({
    appId: a.connectAppId,
    version: a.version,
    successorAppId: a.forgeAppId,
    at: now,
    installations: ids.map((id, k) => {
      const link = ctx.approvalLinks?.issue({ installationId: id, appId: a.connectAppId, version: a.version }, now);
      return { id, site: sites[k] ?? null, approvalUrl: link?.url ?? null, approvalExpiresAt: link?.expiresAt ?? null };
    }),
  });
}

/**
 * An admin's approval of the move of one Connect installation to `forgeAppId@version`: it moves
 * at once (cause approval), from the Connect version it runs.
 * @returns whether it moved now (false: moved before)
 * @throws AppError installation-not-found; approval-refused when `forgeAppId@version` adopts no
 *   Connect app, or not this installation's
 */
export async function approveAdoption(
  ctx: AdoptionContext,
  installationId: string,
  forgeAppId: string,
  version: string,
): Promise<boolean> {
  const inst = await ctx.installs.get(installationId);
  if (inst.appId === forgeAppId) return false;
  const a = await findAdoption(ctx, forgeAppId, version);
  if (!a || a.connectAppId !== inst.appId)
    throw new AppError(
      ErrorCode.APPROVAL_REFUSED,
      `${forgeAppId}@${version} does not adopt app ${inst.appId} of installation ${installationId}`,
    );
  const r = await ctx.installs.adoptInstallations(
    a.connectAppId,
    forgeAppId,
    version,
    [{ id: installationId, expected: inst.version, cause: 'approval' }],
    ctx.clock.now(),
  );
  if (r.conflicts > 0)
    throw new AppError(ErrorCode.ROLLOUT_CONFLICT, `installation ${installationId} changed meanwhile: approve again`);
  return r.moved === 1;
}

/** A Connect to Forge adoption as operators see it (`mpu rollouts show`, `mpu distribution`). */
export interface AdoptionView {
  type: 'connect-to-forge';
  connectAppId: string;
  forgeAppId: string;
  /** The adopting Forge version. */
  version: string;
  /** Sites still on the Connect app (any version). */
  onConnect: number;
  /** Sites on the Forge app (any version: moved ones, and those installed on Forge directly). */
  onForge: number;
  /** `onForge` out of both apps' sites, percent (two decimals, rounded down); 100 when none. */
  progressPercent: number;
  /** The window eligible installations move in (epoch ms): publication to publication + `adoptionWindowMs`. */
  windowStart: number;
  windowEnd: number;
}

/** Progress of an adoption: sites on Forge out of all sites of both apps. */
export async function adoptionView(
  ctx: Pick<AdoptionContext, 'installs' | 'rolloutPolicy'>,
  a: Adoption,
): Promise<AdoptionView> {
  const sum = (d: Record<string, number>) => Object.values(d).reduce((x, y) => x + y, 0);
  const [onConnect, onForge] = await Promise.all([
    ctx.installs.distribution(a.connectAppId).then(sum),
    ctx.installs.distribution(a.forgeAppId).then(sum),
  ]);
  const total = onConnect + onForge;
  return {
    type: 'connect-to-forge',
    connectAppId: a.connectAppId,
    forgeAppId: a.forgeAppId,
    version: a.version,
    onConnect,
    onForge,
    progressPercent: total === 0 ? 100 : Math.floor((onForge / total) * 10_000) / 100,
    windowStart: a.publishedAt,
    windowEnd: a.publishedAt + ctx.rolloutPolicy.adoptionWindowMs,
  };
}

/**
 * The adoption `appId` takes part in, as the adopting Forge app (its first version) or as the
 * adopted Connect app (the first registered Forge app whose first version names it), or null.
 */
export async function adoptionOfApp(
  ctx: Pick<AdoptionContext, 'apps' | 'versions' | 'descriptors'>,
  appId: string,
): Promise<Adoption | null> {
  const app = await ctx.apps.getApp(appId);
  const forgeApps =
    app?.kind === 'forge'
      ? [app]
      : app?.kind === 'connect'
        ? (await ctx.apps.listApps()).filter((r) => r.kind === 'forge')
        : [];
  for (const f of forgeApps) {
    const [first] = await ctx.versions.listVersions(f.id);
    const a = first ? await findAdoption(ctx, f.id, first.version) : null;
    if (a && (a.forgeAppId === appId || a.connectAppId === appId)) return a;
  }
  return null;
}
