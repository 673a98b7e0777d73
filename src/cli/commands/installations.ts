/**
 * Implementations of the rollout CLI: installations import / generate / list / show,
 * approve, rollouts list / show / pause / resume / halt, distribution. Each opens the Redis
 * context from the environment (REDIS_URL, MPU_PREFIX…; `openContext` says how to start a Redis
 * when none answers) and closes it before returning.
 */
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { openContext } from '../../main.js';
import { AppError, ErrorCode } from '../../lib/errors.js';
import { parseInstallationInput } from '../../rollout/installation-input.js';
import type { Installation } from '../../rollout/types.js';
import { describeHistoryEntry } from '../../rollout/installation-history.js';
import { parseRolloutId } from '../../store/rollout-store.js';
import type { AdoptionView } from '../../app/rollout/adoption.js';
import type { Runtime } from '../../runtime.js';
import { scheduleLatePlanning } from '../../app/rollout/late-installations.js';
import {
  InstallationRefs,
  approveInstallation,
  generatePopulation,
  showInstallation,
} from '../../app/rollout/installations.js';
import {
  controlRollout,
  listRollouts,
  showRollout,
  versionDistribution,
  type RolloutAdoptionView,
} from '../../app/rollout/rollouts.js';
import type { AuditStore } from '../../store/audit-store.js';
import { audited, cliActor } from '../audit.js';

const out = (s: string): void => void process.stdout.write(s + '\n');
const iso = (t: number | null | undefined) => (t === null || t === undefined ? '-' : new Date(t).toISOString());
const hours = (ms: number) => `${(ms / 3_600_000).toFixed(2)} h`;

/** Opens the process's context (and its audit trail) from the environment, runs `fn`, closes. */
export async function withRolloutContext<T>(fn: (ctx: Runtime, audit: AuditStore) => Promise<T>): Promise<T> {
  const { ctx, audit, close } = await openContext();
  try {
    return await fn(ctx, audit);
  } finally {
    await close();
  }
}

async function* jsonLines(file: string): AsyncGenerator<{ line: number; value: unknown; error?: string }> {
  const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    if (text.trim() === '') continue;
    try {
      yield { line, value: JSON.parse(text) };
    } catch (err) {
      yield { line, value: undefined, error: `line ${line}: not JSON (${(err as Error).message})` };
    }
  }
}

/**
 * `mpu installations import FILE.jsonl`: one installation per line. The whole file is validated
 * first (streamed, so any size), then the versions its lines name are checked against the store
 * (registered app, stored and published version: `InstallationRefs`), and nothing is stored if a
 * line is bad. Audited (`installation.import`), a refused file too.
 * @throws AppError input-invalid listing the first bad lines
 */
export async function importInstallations(file: string, opts: { json?: boolean }): Promise<void> {
  const res = await withRolloutContext((ctx, audit) =>
    audited({ audit, clock: ctx.clock }, 'installation.import', { path: file }, async (note) => {
      const r = await importFile(ctx, file);
      note.target = { path: file, count: r.created + r.updated, ...(r.apps.size === 1 ? { app: [...r.apps][0] } : {}) };
      return r;
    }),
  );
  out(
    opts.json
      ? JSON.stringify({ file, created: res.created, updated: res.updated })
      : `${file}: ${res.created} installation(s) registered, ${res.updated} updated`,
  );
}

/** Validates all of `file`, then registers it in batches of 5,000. @throws AppError input-invalid */
async function importFile(
  ctx: Runtime,
  file: string,
): Promise<{ created: number; updated: number; apps: Set<string> }> {
  try {
    await access(file);
  } catch {
    throw new AppError(ErrorCode.INPUT_INVALID, `cannot read ${file}`);
  }
  const problems: string[] = [];
  const refs = new InstallationRefs();
  let count = 0;
  for await (const l of jsonLines(file)) {
    count++;
    if (l.error) problems.push(l.error);
    else {
      try {
        refs.add(parseInstallationInput(l.value, `line ${l.line}`), `line ${l.line}`);
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
  }
  if (problems.length) {
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `${file}: ${problems.length} bad line(s) of ${count}, nothing imported:\n  ${problems.slice(0, 10).join('\n  ')}`,
      {
        details: { problems: problems.slice(0, 100) },
      },
    );
  }
  // Against the store before anything is stored: every line names a stored, published version.
  const unknown = await refs.check(ctx);
  if (unknown.length) {
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `${file}: ${unknown.length} unknown app version(s), nothing imported:\n  ${unknown.slice(0, 10).join('\n  ')}`,
      { details: { problems: unknown } },
    );
  }
  {
    const total = { created: 0, updated: 0 };
    const apps = new Set<string>();
    const seen = new Set<string>();
    let batch: Installation[] = [];
    const flush = async () => {
      const r = await ctx.installs.register(batch, ctx.clock.now());
      total.created += r.created;
      total.updated += r.updated;
      for (const i of batch) {
        seen.add(i.appId);
        if (r.created > 0) apps.add(i.appId);
      }
      batch = [];
    };
    try {
      for await (const l of jsonLines(file)) {
        batch.push(parseInstallationInput(l.value, `line ${l.line}`));
        if (batch.length >= 5000) await flush();
      }
      if (batch.length) await flush();
    } finally {
      // Once per app for the whole file (every batch is logged as it is stored), so the daemon
      // plans an import made during a rollout in shared batches, not batch by batch.
      await scheduleLatePlanning(ctx, apps);
    }
    return { ...total, apps: seen };
  }
}

/** `mpu installations generate --app APP --count N [--seed S] [--current VERSION]`. */
export async function generateInstallationsCommand(opts: {
  app: string;
  count: string;
  seed: string;
  current?: string;
  json?: boolean;
}): Promise<void> {
  const count = Number(opts.count);
  const seed = Number(opts.seed);
  if (!Number.isInteger(count) || count < 1 || count > 10_000_000)
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `--count must be an integer from 1 to 10,000,000 (got '${opts.count}')`,
    );
  if (!Number.isInteger(seed))
    throw new AppError(ErrorCode.INPUT_INVALID, `--seed must be an integer (got '${opts.seed}')`);
  const res = await withRolloutContext((ctx, audit) =>
    audited({ audit, clock: ctx.clock }, 'installation.generate', { app: opts.app }, async (note) => {
      let version = opts.current;
      if (!version) {
        const all = await ctx.versions.listVersions(opts.app);
        version = all.at(-1)?.version;
        if (!version)
          throw new AppError(
            ErrorCode.INPUT_INVALID,
            `app ${opts.app} has no version yet: pass --current VERSION (e.g. 1.0.0)`,
          );
      }
      const started = Date.now();
      const r = await generatePopulation(ctx, { appId: opts.app, count, seed, version }, (done) => {
        if (!opts.json && process.stderr.isTTY) process.stderr.write(`\r  ${done}/${count}`);
      });
      if (!opts.json && process.stderr.isTTY) process.stderr.write('\n');
      note.target = { app: opts.app, version, count: r.created + r.updated };
      return { appId: opts.app, version, seed, ...r, ms: Date.now() - started };
    }),
  );
  out(
    opts.json
      ? JSON.stringify(res)
      : `${res.appId}: ${res.created} installation(s) generated on ${res.version} (seed ${res.seed}, ${res.updated} already there) in ${res.ms} ms`,
  );
}

export async function listInstallationsCommand(opts: {
  app: string;
  offset: string;
  limit: string;
  json?: boolean;
}): Promise<void> {
  const offset = Math.max(0, Number(opts.offset) || 0);
  const limit = Math.min(1000, Math.max(1, Number(opts.limit) || 20));
  const { total, list } = await withRolloutContext(async (ctx) => ({
    total: await ctx.installs.count(opts.app),
    list: await ctx.installs.list(opts.app, offset, limit),
  }));
  if (opts.json) return out(JSON.stringify({ appId: opts.app, total, offset, installations: list }));
  out(`${opts.app}: ${total} installation(s); ${offset}–${offset + list.length - 1}:`);
  for (const i of list) {
    const w = i.maintenance
      ? `${i.maintenance.timeZone} ${i.maintenance.weekly.length} weekly/${i.maintenance.adHoc.length} ad-hoc window(s)`
      : 'no windows';
    out(
      `  ${i.id.padEnd(24)} ${i.version.padEnd(8)} check ${new Date(i.checkOffsetMs).toISOString().slice(11, 16)} UTC  ${w}  ${i.site}`,
    );
  }
}

export async function showInstallationCommand(id: string, opts: { json?: boolean }): Promise<void> {
  const i = await withRolloutContext((ctx) => showInstallation(ctx, id));
  if (opts.json) return out(JSON.stringify(i));
  out(`${i.id} (${i.appId}) on ${i.site} [${i.products.join(', ')}]`);
  out(`  version:          ${i.version}`);
  out(`  approved up to:   ${i.approvedUpTo ?? '-'}`);
  out(`  update available: ${i.updateAvailable ?? '-'}`);
  if (i.forgeAppLink) out(`  Get the Forge app: ${i.forgeAppLink}`);
  out(`  daily check:      ${new Date(i.checkOffsetMs).toISOString().slice(11, 16)} UTC`);
  out(`  maintenance:      ${i.maintenance ? JSON.stringify(i.maintenance) : '-'}`);
  out('  history:');
  for (const e of i.history) out(`    ${iso(e.at)}  ${describeHistoryEntry(e)}`);
}

export async function approveCommand(
  installation: string,
  version: string | undefined,
  opts: { json?: boolean },
): Promise<void> {
  const r = await withRolloutContext((ctx, audit) =>
    audited(
      { audit, clock: ctx.clock },
      'installation.approve',
      { installation, ...(version ? { version } : {}) },
      async (note) => {
        const result = await approveInstallation(ctx, installation, version);
        note.target = { installation, app: result.appId, version: result.approvedUpTo };
        return result;
      },
    ),
  );
  if (opts.json) return out(JSON.stringify(r));
  if (r.adoptedFrom !== undefined)
    return out(
      r.upgradeAt === null
        ? `${r.installationId}: already moved to ${r.appId}@${r.target}`
        : `${r.installationId}: moved from ${r.adoptedFrom}@${r.current} to ${r.appId}@${r.target} at ${iso(r.upgradeAt)}`,
    );
  out(
    `${r.installationId}: approved up to ${r.approvedUpTo}${r.approvedVersions.length ? ` (approves ${r.approvedVersions.join(', ')})` : ''}`,
  );
  out(
    r.target
      ? `  upgrade ${r.current} → ${r.target} at ${iso(r.upgradeAt)} (the daemon's rollout worker applies it)`
      : `  nothing to upgrade: it runs ${r.current}`,
  );
}

/** A rollout for people: status, progress, plan, and its phased release, pause and failures when it has them. */
export function describeRollout(r: RolloutAdoptionView): string {
  const s = r.summary;
  const status = r.complete ? 'complete' : r.status;
  const lines = [
    `${r.id.padEnd(28)} ${r.kind.padEnd(7)} ${r.approval.padEnd(9)} ${status.padEnd(17)} ${r.progressPercent.toFixed(2).padStart(6)} %  ${r.reached}/${r.installations}  published ${iso(r.publishedAt)}`,
  ];
  if (s) {
    lines.push(
      `    plan: ${s.upgrades} upgrade(s), ${s.notifies} notice(s), ${s.upToDate} up to date, ${s.blocked} blocked${s.held ? `, ${s.held} held for later phases` : ''}; delay p50 ${hours(s.delayP50Ms)}, p99 ${hours(s.delayP99Ms)}, max ${hours(s.delayMaxMs)}; ${r.batches} batch(es)`,
    );
  }
  const p = r.phased;
  if (p) {
    const next =
      p.phase === p.phases
        ? 'released to all'
        : p.nextStepAt === null
          ? 'next phase when resumed'
          : `next phase (${p.percents[p.phase]} %) at ${iso(p.nextStepAt)}`;
    lines.push(
      `    phased release: phase ${p.phase} of ${p.phases} (${p.percent} %): cohort ${p.cohortSize} installation(s), since ${iso(p.startedAt)}; ${next}`,
    );
    lines.push(
      `    schedule: ${p.percents.join(', ')} % every ${hours(p.intervalMs)}; paused ${hours(p.pausedMs)} in all` +
        (p.pauseCapAt !== null ? `, resumes by itself at ${iso(p.pauseCapAt)}` : ''),
    );
  }
  if (r.status === 'paused' && r.pause)
    lines.push(`    paused at ${iso(r.pause.at)} by ${r.pause.by}: ${r.pause.reason}`);
  if (r.failures > 0) lines.push(`    failed upgrades reported: ${r.failures}`);
  if (r.supersededBy) lines.push(`    superseded by ${r.supersededBy}`);
  if (r.adoption) lines.push(`    ${describeAdoption(r.adoption)}`);
  return lines.join('\n');
}

/** One line for a Connect to Forge adoption: both apps' sites and the window. */
function describeAdoption(a: AdoptionView): string {
  return `connect-to-forge: ${a.connectAppId} → ${a.forgeAppId}@${a.version}: ${a.onForge} site(s) on Forge, ${a.onConnect} on Connect (${a.progressPercent.toFixed(2)} %); window ${iso(a.windowStart)} → ${iso(a.windowEnd)}`;
}

export async function listRolloutsCommand(opts: { app?: string; limit: string; json?: boolean }): Promise<void> {
  const list = await withRolloutContext((ctx) =>
    listRollouts(ctx, { appId: opts.app, limit: Number(opts.limit) || 50 }),
  );
  if (opts.json) return out(JSON.stringify({ rollouts: list }));
  if (list.length === 0) return out('no rollouts yet (a rollout starts when a version is detected)');
  for (const r of list) out(describeRollout(r));
}

export async function showRolloutCommand(id: string, opts: { json?: boolean }): Promise<void> {
  const { appId, version } = parseRolloutId(id);
  const r = await withRolloutContext((ctx) => showRollout(ctx, appId, version));
  if (opts.json) return out(JSON.stringify(r));
  out(describeRollout(r));
  const upgrades = r.buckets.filter((b) => b.kind !== 'notify');
  const notices = r.buckets.filter((b) => b.kind === 'notify');
  if (upgrades.length)
    out(`    upgrade buckets: ${upgrades.length}, ${iso(upgrades[0]!.at)} … ${iso(upgrades.at(-1)!.at)}`);
  if (notices.length)
    out(`    notify buckets:  ${notices.length}, ${iso(notices[0]!.at)} … ${iso(notices.at(-1)!.at)}`);
}

export async function controlRolloutCommand(
  action: 'pause' | 'resume' | 'halt',
  id: string,
  opts: { json?: boolean },
): Promise<void> {
  const r = await withRolloutContext((ctx, audit) =>
    audited({ audit, clock: ctx.clock }, `rollout.${action}`, {}, async (note) => {
      const { appId, version } = parseRolloutId(id);
      note.target = { app: appId, version };
      return controlRollout(ctx, appId, version, action, cliActor());
    }),
  );
  out(opts.json ? JSON.stringify(r) : describeRollout(r));
}

export async function distributionCommand(app: string, opts: { json?: boolean }): Promise<void> {
  const d = await withRolloutContext((ctx) => versionDistribution(ctx, app));
  if (opts.json) return out(JSON.stringify(d));
  out(`${app}: ${d.total} installation(s)`);
  for (const v of d.versions)
    out(`  ${v.version.padEnd(10)} ${String(v.count).padStart(9)}  ${v.percent.toFixed(2).padStart(6)} %`);
  if (d.adoption) out(`  ${describeAdoption(d.adoption)}`);
}
