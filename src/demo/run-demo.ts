/**
 * `mpu demo`: the whole pipeline on the local Redis, on a
 * compressed clock. A local server plays the vendors' hosts, serving real Connect descriptor
 * histories (../shared/fixtures/real) that change on a schedule; real Forge manifests arrive as
 * signed deploy events; a generated population of installations (with maintenance windows) takes
 * each version; some admins approve manual versions. At the end it checks the promises of
 * DESIGN.md, "Rollout rules": every installation ran each automatic Connect version within 33 h
 * of the descriptor change, Forge automatic versions within minutes, and no installation took a
 * manual version without its admin's approval.
 */
import { runMigrationAct, type MigrationActReport } from './migration-act.js';
import { randomBytes, createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import semver from 'semver';
import { loadConfig } from '../config/config.js';
import { sendDeployEvent } from '../http/deploy-client.js';
import { HOUR, MINUTE, ScaledClock, systemClock, type Clock } from '../lib/clock.js';
import { AppError, ErrorCode } from '../lib/errors.js';
import { silentLogger, type Logger } from '../lib/logger.js';
import { scanKeys, unlinkKeys, type RedisConnection } from '../lib/redis-connection.js';
import { connectRedis, startDaemon, type RunningDaemon } from '../main.js';
import { registerConnectApp, registerForgeApp } from '../app/detection/register-app.js';
import { schedulerTick } from '../workers/scheduler.js';
import type { RolloutContext } from '../app/context.js';
import { approveInstallation, generatePopulation } from '../app/rollout/installations.js';
import { listRollouts } from '../app/rollout/rollouts.js';
import type { VersionRecord } from '../store/types.js';
import type { HistoryEntry } from '../store/installation-store.js';
import { startFixtureServer, type FixtureServer, type ServedHistory } from './fixture-server.js';
import { createPhasedAct, type PhasedActReport } from './phased-act.js';

/** Fixture apps the demo uses unless told otherwise: a mix of majors, manual minors, micros and Forge deploys. */
export const DEFAULT_DEMO_APPS: readonly string[] = [
  'connect/jmigueprieto__ticket-linter',
  'connect/KumarVariable__bb-descriptor',
  'connect/BrandNameSoftware__agile-smells',
  'connect/ZenUml__confluence-plugin-cloud',
  'forge/dpashkevich__forge-jira-checklist',
  'forge/atlassian-labs__mermaid-diagrams-viewer',
];

/** Options of `runDemo`. Durations are simulated time. */
export interface DemoOptions {
  redisUrl: string;
  /** `host:port,…` of a Redis Cluster (REDIS_CLUSTER_NODES); when set, `redisUrl` is not used. */
  redisClusterNodes?: string;
  /** ../shared/fixtures/real */
  fixturesDir: string;
  /** `kind/folder` names under fixturesDir. @defaultValue DEFAULT_DEMO_APPS */
  apps?: readonly string[];
  /** Installations per app. @defaultValue 500 */
  installationsPerApp?: number;
  /** Simulated hours to run. @defaultValue 72 */
  hours?: number;
  /** Simulated seconds per real second. @defaultValue 3600 (one hour per second) */
  speed?: number;
  /** A new descriptor version (or Forge deploy) every this many simulated hours per app. @defaultValue 8 */
  changeEveryHours?: number;
  /** Share of admins who approve a manual version, within 24 h of it. @defaultValue 0.5 */
  approveShare?: number;
  /** Keep the demo's Redis keys (prefix printed) instead of deleting them at the end. */
  keep?: boolean;
  /** Progress lines (one per simulated 4 h); not called in JSON mode by the CLI. */
  onProgress?: (line: string) => void;
  logger?: Logger;
}

/**
 * The shortest `hours` a demo runs with changes every `changeEveryHours`: changes stop 34 h
 * before the end (so every rollout can finish), and each app's first change comes within two
 * change intervals of the start (its stable offset plus one interval).
 */
export const minDemoHours = (changeEveryHours: number): number => 34 + 2 * changeEveryHours;

/** One version of one app as the demo saw it. Delays in simulated hours. */
export interface DemoVersion {
  appId: string;
  kind: 'connect' | 'forge';
  version: string;
  bump: string;
  approval: string;
  /** When the vendor changed the descriptor (Connect) or deployed (Forge), ISO. */
  changedAt: string;
  detectedAt: string;
  /** Hours from the change to detection. */
  detectionHours: number;
  /** Installations that run this version or a newer one at the end, in percent. */
  reachedPercent: number;
  /** Automatic versions: the slowest installation, hours from the change to running it (or newer). */
  maxDelayHours: number | null;
  /** Automatic versions: the median installation, hours from the change to running it. */
  p50DelayHours: number | null;
  /** Automatic versions: installations that did not get it, though nothing held them back. */
  missing: number;
  /** Manual versions: installations upgraded to it without their admin's approval (must be 0). */
  unapprovedUpgrades: number;
}

/** What the demo did and whether the rollout promises held. */
export interface DemoReport {
  prefix: string;
  simulatedHours: number;
  apps: number;
  installations: number;
  versions: DemoVersion[];
  approvals: number;
  /** Each promise: `held` is false when it broke, and when nothing was measured (`worst` null: not exercised). */
  bounds: {
    connectAutomaticHours: { limit: 33; worst: number | null; held: boolean };
    forgeAutomaticMinutes: { limit: number; worst: number | null; held: boolean };
    manualWithoutApproval: { count: number; held: boolean };
    missing: { count: number; held: boolean };
  };
  held: boolean;
  /** The Connect-to-Forge migration act (its `held` is part of `held`). */
  migration?: MigrationActReport;
  /** The phased-release act (phased-act.ts): its app's phase timeline, pause and resume. */
  phased?: PhasedActReport;
}

interface DemoApp {
  folder: string;
  kind: 'connect' | 'forge';
  /** Registered app id: Connect `demo-<name>`, Forge an ARI. */
  appId: string;
  name: string;
  texts: string[];
  /** Simulated times the versions appear (Connect: served; Forge: deployed). */
  changeAt: number[];
  deployed: number;
}

/**
 * Forge automatic: "every installation within a few minutes (maintenance windows still defer)"
 * (DESIGN.md, "Rollout rules"): the planner's spread plus a deferral of at most 4 h.
 */
const FORGE_MINUTES_LIMIT = 4 * 60 + 15;

const hashInt = (s: string): number => createHash('sha256').update(s).digest().readUInt32BE(0);

/** A stable ARI for a demo Forge app, from its folder name. */
function demoAri(name: string): string {
  const h = createHash('sha256').update(name).digest('hex');
  return `ari:cloud:ecosystem::app/${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

async function loadApps(
  dir: string,
  folders: readonly string[],
  start: number,
  changeEvery: number,
  lastChange: number,
): Promise<DemoApp[]> {
  const apps: DemoApp[] = [];
  for (const folder of folders) {
    const [kind, name] = folder.split('/') as ['connect' | 'forge', string];
    if ((kind !== 'connect' && kind !== 'forge') || !name)
      throw new AppError(ErrorCode.INPUT_INVALID, `demo app '${folder}' must be connect/<folder> or forge/<folder>`);
    const full = path.join(dir, kind, name);
    let files: string[];
    try {
      files = (await readdir(full)).filter((f) => /\.(json|ya?ml)$/.test(f)).sort();
    } catch {
      throw new AppError(ErrorCode.INPUT_INVALID, `no fixture history at ${full} (set MPU_FIXTURES_DIR or --fixtures)`);
    }
    const offset = (hashInt(name) % Math.floor(changeEvery / MINUTE)) * MINUTE;
    const changeAt: number[] = [];
    const texts: string[] = [];
    for (let i = 0; i < files.length; i++) {
      const at = i === 0 ? start + (kind === 'forge' ? offset / 4 : 0) : start + offset + i * changeEvery;
      if (i > 0 && at > lastChange) break;
      changeAt.push(at);
      texts.push(await readFile(path.join(full, files[i]!), 'utf8'));
    }
    apps.push({
      folder,
      kind,
      name,
      appId: kind === 'connect' ? `demo-${name}` : demoAri(name),
      texts,
      changeAt,
      deployed: 0,
    });
  }
  return apps;
}

/** Deletes every key of `prefix`: the store's and the queues' (SCAN on each master + UNLINK). */
async function deletePrefix(redis: RedisConnection, prefix: string): Promise<void> {
  for (const pattern of [`${prefix}:*`, `{${prefix}}:*`])
    for await (const keys of scanKeys(redis, pattern, 2000)) await unlinkKeys(redis, keys);
}

/** Approvals planned for a manual version: who approves, and when (simulated epoch ms). */
async function planApprovals(
  ctx: RolloutContext,
  v: VersionRecord,
  share: number,
): Promise<Array<{ at: number; id: string; version: string }>> {
  const out: Array<{ at: number; id: string; version: string }> = [];
  const count = await ctx.installs.count(v.appId);
  for (let offset = 0; offset < count; offset += 5000) {
    for (const inst of await ctx.installs.list(v.appId, offset, 5000)) {
      const h = hashInt(`${inst.id}@${v.version}`);
      if ((h % 1000) / 1000 < share)
        out.push({ at: v.detectedAt + HOUR + (h % (23 * 60)) * MINUTE, id: inst.id, version: v.version });
    }
  }
  return out.sort((a, b) => a.at - b.at);
}

/**
 * Runs the demo and returns its report. Uses a fresh key prefix on the Redis at `redisUrl` and
 * deletes it at the end unless `keep`.
 * @throws AppError store-unavailable (no Redis, with how to start one), input-invalid (fixtures).
 */
export async function runDemo(opts: DemoOptions): Promise<DemoReport> {
  const hours = opts.hours ?? 72;
  const speed = opts.speed ?? 3600;
  const perApp = opts.installationsPerApp ?? 500;
  const changeEvery = (opts.changeEveryHours ?? 8) * HOUR;
  const share = opts.approveShare ?? 0.5;
  const say = opts.onProgress ?? (() => {});
  const logger = opts.logger ?? silentLogger;
  // A Monday, midnight UTC: weekly maintenance windows fall inside the run.
  const start = Date.parse('2025-01-06T00:00:00Z');
  const end = start + hours * HOUR;
  // Changes stop 34 h before the end so that every automatic rollout can finish inside the run.
  const lastChange = end - 34 * HOUR;
  const apps = await loadApps(opts.fixturesDir, opts.apps ?? DEFAULT_DEMO_APPS, start, changeEvery, lastChange);

  const redisEnv = {
    REDIS_URL: opts.redisUrl,
    ...(opts.redisClusterNodes ? { REDIS_CLUSTER_NODES: opts.redisClusterNodes } : {}),
  };
  const probe = await connectRedis(loadConfig(redisEnv).redis, { failFast: true });
  const clock: Clock = new ScaledClock(start, speed);
  const served: ServedHistory[] = apps
    .filter((a) => a.kind === 'connect')
    .map((a) => ({ name: a.name, versions: a.texts, changeAt: a.changeAt }));
  const descriptor = apps.find((a) => a.kind === 'connect')?.texts[0];
  const phased = createPhasedAct({ descriptor, start, end, clock, logger });
  if (phased.served) served.push(phased.served);
  const server: FixtureServer = await startFixtureServer(served, clock);
  const prefix = `mpu-demo-${randomBytes(4).toString('hex')}`;
  const secret = randomBytes(24).toString('hex');
  const config = loadConfig({
    ...redisEnv,
    MPU_PREFIX: prefix,
    MPU_WEBHOOK_SECRET: secret,
    // The demo's own operator (its HTTP API refuses to start without one); nobody else calls it.
    MPU_OPERATOR_TOKENS: `demo:${randomBytes(24).toString('hex')}`,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    MPU_FETCH_ALLOW_NETWORKS: '127.0.0.1/32',
    MPU_FETCH_EXTRA_PORTS: String(server.port),
  });
  let daemon: RunningDaemon | undefined;
  try {
    // The demo drives the scheduler itself (every 250 ms real, 15 simulated minutes at 1 h/s):
    // node-cron's one-second resolution would be a whole simulated hour.
    daemon = await startDaemon(
      config,
      { scheduler: false, http: true, workers: true },
      {
        clock,
        logger,
        connection: probe,
        // Signatures are fresh in real time; the pipeline runs on the scaled clock.
        transportClock: systemClock,
        settings: { timeScale: speed, pauseRecheckMs: 250 },
      },
    );
    // One context: an approval's deferred upgrade is delayed on the daemon's time scale.
    const ctx = daemon.ctx;
    for (const a of apps) {
      if (a.kind === 'connect') await registerConnectApp(ctx, a.appId, server.url(a.name));
      else await registerForgeApp(ctx, a.appId);
    }
    await phased.begin(ctx, server);
    say(
      `${apps.length} apps (${apps.filter((a) => a.kind === 'connect').length} Connect, ${apps.filter((a) => a.kind === 'forge').length} Forge), ${perApp} installations each, ${hours} simulated hours at ${speed / 3600} h/s; Redis prefix ${prefix}`,
    );

    // Beside the main rollouts: the Connect-to-Forge migration act (migration-act.ts).
    const act = runMigrationAct(ctx, { url: daemon.url!, webhookSecret: secret, say }).then(
      (r) => ({ r }),
      (err: unknown) => ({ err }),
    );
    const populated = new Set<string>();
    const knownVersions = new Map<string, VersionRecord>();
    let approvalsDue: Array<{ at: number; id: string; version: string }> = [];
    let approvals = 0;
    let nextReport = start + 4 * HOUR;
    while (clock.now() < end) {
      const now = clock.now();
      await schedulerTick(ctx);
      for (const a of apps) {
        if (a.kind !== 'forge') continue;
        while (a.deployed < a.changeAt.length && a.changeAt[a.deployed]! <= now) {
          const i = a.deployed++;
          // The deploy happens when it is sent (the loop may pass its scheduled time by a tick).
          a.changeAt[i] = now;
          await sendDeployEvent(
            daemon.url!,
            secret,
            {
              eventId: `${a.name}-${i}`,
              appId: a.appId,
              environment: 'production',
              deploymentId: `${a.name}-deploy-${i}`,
              manifest: a.texts[i]!,
              deployedAt: new Date(now).toISOString(),
            },
            systemClock.now(),
          ).catch((err: unknown) => logger.warn({ err, app: a.appId }, 'demo:deploy refused'));
        }
      }
      for (const a of apps) {
        for (const v of await ctx.versions.listVersions(a.appId)) {
          const key = `${v.appId}@${v.version}`;
          if (knownVersions.has(key)) continue;
          knownVersions.set(key, v);
          if (!populated.has(a.appId)) {
            populated.add(a.appId);
            await generatePopulation(ctx, {
              appId: a.appId,
              count: perApp,
              seed: hashInt(a.name),
              version: v.version,
              now,
            });
          } else if (v.approval === 'manual') {
            approvalsDue = [...approvalsDue, ...(await planApprovals(ctx, v, share))].sort((x, y) => x.at - y.at);
          }
        }
      }
      while (approvalsDue.length && approvalsDue[0]!.at <= now) {
        const a = approvalsDue.shift()!;
        await approveInstallation(ctx, a.id, a.version).then(
          () => approvals++,
          (err: unknown) => logger.debug({ err, installation: a.id }, 'demo:approval skipped'),
        );
      }
      if (now >= nextReport) {
        nextReport += 4 * HOUR;
        const rollouts = await listRollouts(ctx, {});
        const inFlight = rollouts.filter((r) => !r.complete && r.approval === 'automatic' && r.status !== 'halted');
        const manual = rollouts.filter((r) => r.approval === 'manual' && !r.complete);
        say(
          `+${String(Math.round((now - start) / HOUR)).padStart(3)}h  versions ${knownVersions.size}  ` +
            `automatic rollouts in flight ${inFlight.length}${
              inFlight.length
                ? ` (${inFlight
                    .slice(0, 3)
                    .map(
                      (r) =>
                        `${r.appId.replace(/^ari:cloud:ecosystem::app\//, '')}@${r.version} ${Math.round(r.progressPercent)}%`,
                    )
                    .join(', ')})`
                : ''
            }  ` +
            `awaiting approval ${manual.length}  approvals ${approvals}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    // Let the last upgrade batches land before reading the histories.
    await new Promise((r) => setTimeout(r, 1000));
    const migration = await act;
    if ('err' in migration) throw migration.err;
    const phasedAct = await phased.finish();
    for (const line of phasedAct?.lines ?? []) say(line);
    const report = await buildReport(ctx, apps, server, prefix, hours, approvals, populated.size * perApp);
    return {
      ...report,
      migration: migration.r,
      ...(phasedAct ? { phased: phasedAct } : {}),
      held: report.held && migration.r.held,
    };
  } finally {
    await phased.finish().catch(() => null); // stops the act's timer when the run failed
    // Once the daemon has stopped: a job still running before (the reconciliation sweep writing
    // its mark) could otherwise write a key after the deletion.
    if (daemon) await daemon.close();
    if (!opts.keep) await deletePrefix(probe, prefix).catch(() => {});
    await probe.quit().catch(() => probe.disconnect());
    await server.close();
  }
}

async function buildReport(
  ctx: RolloutContext,
  apps: DemoApp[],
  server: FixtureServer,
  prefix: string,
  hours: number,
  approvals: number,
  installations: number,
): Promise<DemoReport> {
  const versions: DemoVersion[] = [];
  const views = new Map((await listRollouts(ctx, {})).map((r) => [`${r.appId}@${r.version}`, r]));
  for (const a of apps) {
    const records = await ctx.versions.listVersions(a.appId);
    // Every installation's history, once.
    const histories: HistoryEntry[][] = [];
    for await (const [, h] of ctx.installs.scanHistory(a.appId)) histories.push(h);
    for (const v of records) {
      // Which served descriptor (Connect) or deploy (Forge, by its deployment id) this version is.
      const idx =
        a.kind === 'connect'
          ? server.servedIndex(a.name, v.detectedAt)
          : Number(/-deploy-(\d+)$/.exec(v.deploymentId ?? '')?.[1] ?? 0);
      const changedAt = a.changeAt[Math.max(0, Math.min(idx, a.changeAt.length - 1))] ?? v.detectedAt;
      let maxDelay: number | null = null;
      const delays: number[] = [];
      let missing = 0;
      let unapproved = 0;
      if (v.bump !== 'initial') {
        for (const h of histories) {
          const upgrades = h.filter((e): e is Extract<HistoryEntry, { kind: 'upgraded' }> => e.kind === 'upgraded');
          if (v.approval === 'automatic') {
            const registered = h.find((e) => e.kind === 'registered');
            if (registered && registered.kind === 'registered' && semver.gte(registered.version, v.version)) continue;
            const reached = upgrades.find((e) => semver.gte(e.to, v.version));
            if (reached) {
              maxDelay = Math.max(maxDelay ?? 0, reached.at - changedAt);
              delays.push(reached.at - changedAt);
            } else if (!heldBackByManual(h, records, v)) missing++;
          } else {
            const approved = h.some((e) => e.kind === 'approved' && semver.gte(e.version, v.version));
            if (!approved && upgrades.some((e) => semver.gte(e.to, v.version))) unapproved++;
          }
        }
      }
      versions.push({
        appId: a.appId,
        kind: a.kind,
        version: v.version,
        bump: v.bump,
        approval: v.approval,
        changedAt: new Date(changedAt).toISOString(),
        detectedAt: new Date(v.detectedAt).toISOString(),
        detectionHours: round((v.detectedAt - changedAt) / HOUR),
        reachedPercent: views.get(`${a.appId}@${v.version}`)?.progressPercent ?? 0,
        maxDelayHours: maxDelay === null ? null : round(maxDelay / HOUR),
        p50DelayHours: delays.length
          ? round(delays.sort((x, y) => x - y)[Math.floor(delays.length / 2)]! / HOUR)
          : null,
        missing,
        unapprovedUpgrades: unapproved,
      });
    }
  }
  const auto = (kind: 'connect' | 'forge') =>
    versions.filter(
      (v) => v.kind === kind && v.approval === 'automatic' && v.bump !== 'initial' && v.maxDelayHours !== null,
    );
  const worstConnect = auto('connect').reduce<number | null>((m, v) => Math.max(m ?? 0, v.maxDelayHours!), null);
  const worstForge = auto('forge').reduce<number | null>((m, v) => Math.max(m ?? 0, v.maxDelayHours! * 60), null);
  const unapproved = versions.reduce((s, v) => s + v.unapprovedUpgrades, 0);
  const missing = versions.reduce((s, v) => s + v.missing, 0);
  const bounds: DemoReport['bounds'] = {
    // A promise with nothing measured (`worst` null) is not exercised: it did not hold, nor break.
    connectAutomaticHours: { limit: 33, worst: worstConnect, held: worstConnect !== null && worstConnect <= 33 },
    forgeAutomaticMinutes: {
      limit: FORGE_MINUTES_LIMIT,
      worst: worstForge === null ? null : round(worstForge),
      held: worstForge !== null && worstForge <= FORGE_MINUTES_LIMIT,
    },
    manualWithoutApproval: { count: unapproved, held: unapproved === 0 },
    missing: { count: missing, held: missing === 0 },
  };
  return {
    prefix,
    simulatedHours: hours,
    apps: apps.length,
    installations,
    versions,
    approvals,
    bounds,
    held: Object.values(bounds).every((b) => b.held),
  };
}

/** True when the installation sits below a manual version older than `v` that it has not approved. */
function heldBackByManual(h: HistoryEntry[], records: VersionRecord[], v: VersionRecord): boolean {
  const approvedUpTo = h.filter((e) => e.kind === 'approved').map((e) => (e as { version: string }).version);
  return records.some(
    (r) =>
      r.approval === 'manual' &&
      r.bump !== 'initial' &&
      semver.lt(r.version, v.version) &&
      !approvedUpTo.some((x) => semver.gte(x, r.version)),
  );
}

const round = (x: number) => Math.round(x * 100) / 100;
