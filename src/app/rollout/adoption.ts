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
  'clock' | 'logger' | 'apps' | 'descriptors' | 'installs' | 'policy' | 'rolloutPolicy' | 'settings'
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

/** What an adoption batch did, or when to run it. */
export type AdoptionBatchResult =
  { kind: 'wait'; until: number } | { kind: 'done'; moved: number; notified: number; alreadyMoved: number };

/**
 * Applies one batch at `clock.now()`: installations still on the Connect app whose installed
 * version is eligible move (a `notify` batch moves none), the others are shown "update
 * available: <forge app>@<version>" (once). A lost compare-and-set (the installation upgraded
 * meanwhile) is judged again by its new version, up to 5 times.
 * @throws AppError rollout-conflict (retried) when versions keep changing under it
 */
export async function applyAdoptionBatch(ctx: AdoptionContext, b: AdoptionBatch): Promise<AdoptionBatchResult> {
  const now = ctx.clock.now();
  if (now < b.at) return { kind: 'wait', until: b.at };
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
  const notified = await ctx.installs.markUpdateAvailable(a.connectAppId, waiting, `${a.forgeAppId}@${a.version}`, now);
  ctx.logger.info(
    { event: 'adoption:batch:applied', appId: a.forgeAppId, version: a.version, moved, notified, alreadyMoved },
    `adoption batch of ${a.forgeAppId}@${a.version}: ${moved} of ${b.ids.length} moved from ${a.connectAppId}`,
  );
  return { kind: 'done', moved, notified, alreadyMoved };
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
