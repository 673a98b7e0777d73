/**
 * `mpu apps add connect URL`, `mpu apps add forge ARI`, `mpu apps list`, `mpu apps show APP`,
 * `mpu apps remove APP`, `mpu versions APP`, `mpu poll APP`, `mpu forge deploy`. Each opens the Redis context
 * from the environment (REDIS_URL, MPU_PREFIX…) and closes it before returning.
 */
import { registerAppPhasedReleaseCommands } from './phased.js';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { Option, type Command } from 'commander';
import { openContext } from '../../main.js';
import { systemClock } from '../../lib/clock.js';
import { AppError, ErrorCode } from '../../lib/errors.js';
import { CONNECT_PRODUCTS, parseDescriptor, type ConnectProduct } from '../../versioning/index.js';
import { pollApp } from '../../app/detection/poll-app.js';
import { recordVersion, type RecordVersionResult } from '../../app/detection/record-version.js';
import { registerConnectApp, registerForgeApp } from '../../app/detection/register-app.js';
import { previewAppRemoval, removeApp, type RemoveAppDeps } from '../../app/detection/remove-app.js';
import type { DeployEvent } from '../../poller/deploy-event.js';
import { sendDeployEvent } from '../../http/deploy-client.js';
import type { AppRecord } from '../../store/app-store.js';
import type { VersionRecord } from '../../store/types.js';
import type { Runtime } from '../../runtime.js';
import { runAction } from '../run-action.js';
import { audited } from '../audit.js';
import { registerBulkUpgradeCommands } from './bulk-upgrade.js';
import { registerSharingCommands } from './distribution.js';
import type { AuditStore } from '../../store/audit-store.js';

async function withContext<T>(
  fn: (ctx: Runtime, env: { port: number; secret?: string; audit: AuditStore }) => Promise<T>,
): Promise<T> {
  const { ctx, config, audit, close } = await openContext();
  try {
    return await fn(ctx, { port: config.port, secret: config.webhookSecret, audit });
  } finally {
    await close();
  }
}

const out = (s: string) => process.stdout.write(s + '\n');
const iso = (t: number | undefined | null) => (t === undefined || t === null ? '-' : new Date(t).toISOString());

function describeApp(app: AppRecord, extra: { nextPollAt: number | null; latest: string | null }): string {
  const lines = [
    `${app.id} (${app.kind})`,
    app.descriptorUrl ? `  descriptor URL:  ${app.descriptorUrl}` : undefined,
    app.kind === 'connect' ? `  product:         ${app.product ?? '(inferred from module types)'}` : undefined,
    `  status:          ${app.status}`,
    `  latest version:  ${extra.latest ?? '(none yet)'}`,
    app.kind === 'connect'
      ? `  last poll:       ${iso(app.lastPollAt)} ${app.lastPollOutcome ?? ''} ${app.lastHttpStatus ?? ''}`.trimEnd()
      : undefined,
    app.kind === 'connect' ? `  next poll due:   ${iso(extra.nextPollAt)}` : undefined,
    app.kind === 'connect'
      ? `  failures:        ${app.consecutiveFailures} in a row, ${app.totalFailures} in all`
      : undefined,
    app.lastError ? `  last error:      ${app.lastError} (${iso(app.lastErrorAt)})` : undefined,
    app.kind === 'forge'
      ? `  environments:    ${
          Object.entries(app.environments ?? {})
            .map(([e, t]) => `${e} (last deploy ${iso(t)})`)
            .join(', ') || '(no deploys yet)'
        }`
      : undefined,
  ];
  return lines.filter((l) => l !== undefined).join('\n');
}

function describeVersion(v: VersionRecord): string {
  const head = `${v.version.padEnd(8)} ${v.bump.padEnd(7)} ${v.approval.padEnd(9)} ${v.source.padEnd(6)} ${iso(v.detectedAt)} ${v.descriptorHash.slice(0, 19)}`;
  const reasons = v.reasons.map((r) => `    - ${r.detail} [${r.rule}]`);
  return [head, ...reasons].join('\n');
}

/** How `mpu apps remove` asks for confirmation: injected, so tests need no terminal. */
export interface ConfirmIo {
  /** Whether a person can answer: stdin and stderr are terminals. */
  interactive(): boolean;
  /** Asks `question` (on stderr, so `--json` output stays clean) and resolves with the answer. */
  ask(question: string): Promise<string>;
}

/** The terminal: reads the answer from stdin. */
export const terminalConfirmIo: ConfirmIo = {
  interactive: () => Boolean(process.stdin.isTTY && process.stderr.isTTY),
  async ask(question) {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return await rl.question(question);
    } finally {
      rl.close();
    }
  },
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * `mpu apps remove APP [--yes] [--json]`: unregisters an app and deletes its data
 * (poller/remove-app.ts). Without `--yes` it asks on a terminal, naming the app and what would
 * be deleted; a declined confirmation removes nothing and exits 1.
 * @throws AppError app-not-found (exit 66); input-invalid (exit 65, the usage error of the
 *   other commands) without `--yes` when stdin is not a terminal: nothing is removed.
 */
export async function removeAppCommand(
  appId: string,
  opts: { yes?: boolean; json?: boolean },
  io: ConfirmIo = terminalConfirmIo,
): Promise<void> {
  await withContext((ctx, env) =>
    audited({ audit: env.audit, clock: ctx.clock }, 'app.remove', { app: appId }, async (note) => {
      const deps: RemoveAppDeps = ctx;
      const { app, inventory } = await previewAppRemoval(deps, appId);
      const what = `${plural(inventory.versions, 'version')}, ${plural(inventory.installations, 'installation')}, ${plural(inventory.rollouts, 'rollout')}`;
      if (!opts.yes) {
        if (!io.interactive()) {
          throw new AppError(
            ErrorCode.INPUT_INVALID,
            `not removing ${app.kind} app ${appId} (${what}) without confirmation: stdin is not a terminal; pass --yes to remove it`,
            {
              details: { ...inventory },
            },
          );
        }
        const answer = await io.ask(
          `Remove ${app.kind} app ${appId} and delete its data: ${what}? This cannot be undone. [y/N] `,
        );
        if (!/^y(es)?$/i.test(answer.trim())) {
          process.stderr.write(`app ${appId} not removed\n`);
          note.outcome = 'cancelled';
          process.exitCode = 1;
          return;
        }
      }
      const removed = await removeApp(deps, appId);
      if (opts.json) return out(JSON.stringify({ removed }));
      out(
        `removed ${removed.kind} app ${appId}: ${plural(removed.versions, 'version')}, ${plural(removed.installations, 'installation')}, ` +
          `${plural(removed.rollouts, 'rollout')}` +
          (removed.bulkUpgrades ? `, ${plural(removed.bulkUpgrades, 'bulk upgrade')}` : '') +
          ` deleted (${plural(removed.keys, 'key')}); its polling has stopped`,
      );
    }),
  );
}

/** Forge's standard environments; only `production` deploys create versions. */
const FORGE_ENVIRONMENTS = ['production', 'staging', 'development'] as const;
const ENVIRONMENT_ALIASES: Record<string, (typeof FORGE_ENVIRONMENTS)[number]> = {
  prod: 'production',
  prd: 'production',
  live: 'production',
  stage: 'staging',
  stg: 'staging',
  dev: 'development',
};

/**
 * The standard Forge environment that `env` most likely means, or null when `env` is one (or
 * not close to any): a different case (`Production`), a common short form (`prod`, `dev`), a
 * prefix of three letters or more, or a typo of one or two letters. Other names pass without a
 * word: Forge has custom developer environments, so an unknown name is not refused.
 */
export function suggestForgeEnvironment(env: string): string | null {
  if ((FORGE_ENVIRONMENTS as readonly string[]).includes(env)) return null;
  const e = env.trim().toLowerCase();
  if ((FORGE_ENVIRONMENTS as readonly string[]).includes(e)) return e;
  if (ENVIRONMENT_ALIASES[e]) return ENVIRONMENT_ALIASES[e];
  for (const known of FORGE_ENVIRONMENTS) {
    if (e.length >= 3 && known.startsWith(e)) return known;
    if (editDistance(e, known) <= 2) return known;
  }
  return null;
}

/** Levenshtein distance (the strings are a few letters long). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

export function registerAppsCommands(program: Command): void {
  const apps = program.command('apps').description('register and inspect Connect and Forge apps');
  const add = apps
    .command('add')
    .description('register an app (Connect: polled every interval; Forge: versioned by deploy events)');

  add
    .command('connect')
    .argument('<url>', 'descriptor URL (atlassian-connect.json), http(s) on port 80, 443 or 8080')
    .option('--id <id>', 'app id (default: the descriptor\'s "key", fetched once now)')
    .addOption(
      new Option(
        '--product <product>',
        "the app's product, whose Connect scope rules classify its changes (default: inferred from module types)",
      ).choices([...CONNECT_PRODUCTS]),
    )
    .option('--json', 'print the app as JSON')
    .description('register a Connect app; its first poll is due at once (next scheduler tick)')
    .action(
      runAction(async (url: string, opts: { id?: string; json?: boolean; product?: ConnectProduct }) => {
        await withContext((ctx, env) =>
          audited({ audit: env.audit, clock: ctx.clock }, 'app.add', { path: url }, async (note) => {
            let id = opts.id;
            if (!id) {
              const res = await ctx.fetcher.fetch(url);
              if (res.status !== 'ok')
                throw new AppError(
                  ErrorCode.DESCRIPTOR_FETCH_FAILED,
                  `${url} answered 304 to an unconditional request`,
                  {
                    retryable: false,
                  },
                );
              const parsed = parseDescriptor(res.body, { source: url, kind: 'connect' });
              if (!parsed.appKey)
                throw new AppError(ErrorCode.INPUT_INVALID, `the descriptor at ${url} has no "key": pass --id`);
              id = parsed.appKey;
            }
            note.target = { app: id, path: url };
            const app = await registerConnectApp(ctx, id, url, opts.product ? { product: opts.product } : {});
            if (opts.json) out(JSON.stringify({ app }));
            else
              out(
                `registered Connect app ${app.id}: polled every ${ctx.settings.pollIntervalMs / 3_600_000} h, first poll at the next scheduler tick (or now: mpu poll ${app.id})`,
              );
          }),
        );
      }),
    );

  add
    .command('forge')
    .argument('<ari>', 'Forge app ARI, ari:cloud:ecosystem::app/<uuid>')
    .option('--json', 'print the app as JSON')
    .description('register a Forge app; production deploy events then create its versions')
    .action(
      runAction(async (ari: string, opts: { json?: boolean }) => {
        await withContext((ctx, env) =>
          audited({ audit: env.audit, clock: ctx.clock }, 'app.add', { app: ari }, async () => {
            const app = await registerForgeApp(ctx, ari);
            if (opts.json) out(JSON.stringify({ app }));
            else
              out(`registered Forge app ${app.id}: send production deploys with 'mpu forge deploy --app ${app.id} …'`);
          }),
        );
      }),
    );

  apps
    .command('list')
    .option('--json', 'print JSON')
    .description('list registered apps with their latest version and poll state')
    .action(
      runAction(async (opts: { json?: boolean }) => {
        await withContext(async (ctx) => {
          const list = await ctx.apps.listApps();
          const latest = await Promise.all(list.map((a) => ctx.versions.latestVersion(a.id)));
          if (opts.json)
            return out(
              JSON.stringify({ apps: list.map((a, i) => ({ ...a, latestVersion: latest[i]?.version ?? null })) }),
            );
          if (list.length === 0)
            return out("no apps registered (add one: 'mpu apps add connect URL' or 'mpu apps add forge ARI')");
          for (const [i, a] of list.entries()) {
            out(
              `${a.id.padEnd(48)} ${a.kind.padEnd(8)} ${(latest[i]?.version ?? '-').padEnd(8)} ${a.status}${a.lastError ? `  (${a.lastError})` : ''}`,
            );
          }
        });
      }),
    );

  apps
    .command('show')
    .argument('<app>', 'app id (Connect key or Forge ARI)')
    .option('--json', 'print JSON')
    .description('show an app: URL, status, last poll, failures and last error, next poll, latest version')
    .action(
      runAction(async (appId: string, opts: { json?: boolean }) => {
        await withContext(async (ctx) => {
          const app = await ctx.apps.requireApp(appId);
          const nextPollAt = await ctx.schedule.nextDue(appId);
          const latest = (await ctx.versions.latestVersion(appId))?.version ?? null;
          if (opts.json) out(JSON.stringify({ app, nextPollAt, latestVersion: latest }));
          else out(describeApp(app, { nextPollAt, latest }));
        });
      }),
    );

  registerAppPhasedReleaseCommands(apps);

  apps
    .command('remove')
    .argument('<app>', 'app id (Connect key or Forge ARI)')
    .option('--yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--json', 'print what was removed as JSON')
    .description(
      'unregister an app: its polling stops at once and its record, schedule, versions, descriptors, deployments, installations, rollouts and bulk upgrades are deleted',
    )
    .action(runAction((appId: string, opts: { yes?: boolean; json?: boolean }) => removeAppCommand(appId, opts)));
  registerSharingCommands(apps);

  program
    .command('versions')
    .argument('<app>', 'app id (Connect key or Forge ARI)')
    .option('--json', 'print JSON')
    .description("an app's version history, oldest first: version, bump, approval, source, detected at, reasons")
    .action(
      runAction(async (appId: string, opts: { json?: boolean }) => {
        await withContext(async (ctx) => {
          await ctx.apps.requireApp(appId);
          const versions = await ctx.versions.listVersions(appId);
          if (opts.json) return out(JSON.stringify({ appId, versions }));
          if (versions.length === 0) return out(`${appId} has no version yet`);
          out(
            `${'version'.padEnd(8)} ${'bump'.padEnd(7)} ${'approval'.padEnd(9)} ${'source'.padEnd(6)} ${'detected at'.padEnd(24)} descriptor`,
          );
          for (const v of versions) out(describeVersion(v));
        });
      }),
    );

  program
    .command('poll')
    .argument('<app>', 'Connect app id')
    .option('--json', 'print JSON')
    .description('poll a Connect app now and version any change at once (the rollout plan is queued for the daemon)')
    .action(
      runAction(async (appId: string, opts: { json?: boolean }) => {
        await withContext(async (ctx) => {
          let versioned: RecordVersionResult | undefined;
          const res = await pollApp(
            { ...ctx, enqueueVersion: async (job) => void (versioned = await recordVersion(ctx, job)) },
            appId,
          );
          if (opts.json)
            return out(
              JSON.stringify({
                poll: { appId, outcome: res.outcome, httpStatus: res.httpStatus, hash: res.hash ?? null },
                version: versioned ?? null,
              }),
            );
          const v =
            versioned?.status === 'created'
              ? `: new version ${versioned.version} (${versioned.record.bump}, ${versioned.record.approval})`
              : versioned
                ? `: ${versioned.status}`
                : '';
          out(`${appId}: ${res.outcome} (HTTP ${res.httpStatus})${v}`);
        });
      }),
    );

  const forge = program.command('forge').description('Forge deploy events and bulk upgrades');
  registerBulkUpgradeCommands(forge);
  forge
    .command('deploy')
    .requiredOption('--app <ari>', 'Forge app ARI')
    .requiredOption(
      '--env <environment>',
      'environment: production creates a version; staging, development and custom ones do not (exact name)',
    )
    .requiredOption('--manifest <file>', 'manifest.yml of the deployment')
    .option('--deployment-id <id>', 'deployment id (default: a new UUID); resending the same id creates nothing new')
    .option('--url <url>', 'daemon base URL (default: http://127.0.0.1:$PORT)')
    .option('--json', 'print the answer as JSON')
    .description('sign (MPU_WEBHOOK_SECRET) and send a deploy event to the daemon, as the deploy hook does')
    .action(
      runAction(
        async (opts: {
          app: string;
          env: string;
          manifest: string;
          deploymentId?: string;
          url?: string;
          json?: boolean;
        }) => {
          const meant = suggestForgeEnvironment(opts.env);
          if (meant)
            process.stderr.write(
              `mpu: warning: environment '${opts.env}' is not '${meant}'` +
                (meant === 'production' ? ': this deploy creates no version' : '') +
                `; did you mean --env ${meant}? (sending it as '${opts.env}')\n`,
            );
          await withContext(async (_ctx, env) => {
            if (!env.secret)
              throw new AppError(
                ErrorCode.CONFIG_INVALID,
                "set MPU_WEBHOOK_SECRET (the daemon's secret) to sign the event",
              );
            let manifest: string;
            try {
              manifest = await readFile(opts.manifest, 'utf8');
            } catch (err) {
              throw new AppError(ErrorCode.INPUT_INVALID, `cannot read ${opts.manifest}: ${(err as Error).message}`);
            }
            const now = systemClock.now();
            const event: DeployEvent = {
              eventId: randomUUID(),
              appId: opts.app,
              environment: opts.env,
              deploymentId: opts.deploymentId ?? randomUUID(),
              manifest,
              deployedAt: new Date(now).toISOString(),
            };
            const base = opts.url ?? `http://127.0.0.1:${env.port}`;
            const { httpStatus, body: answer } = await sendDeployEvent(base, env.secret, event, now);
            if (opts.json) out(JSON.stringify({ httpStatus, ...answer, deploymentId: event.deploymentId }));
            else out(`deployment ${event.deploymentId} of ${opts.app} to ${opts.env}: ${String(answer.status)}`);
          });
        },
      ),
    );
}
