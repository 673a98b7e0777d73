/**
 * `mpu demo`: the main job on real input. See src/demo/run-demo.ts.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_DEMO_APPS, minDemoHours, runDemo, type DemoReport } from '../../demo/run-demo.js';
import { AppError, ErrorCode } from '../../lib/errors.js';
import { runAction } from '../run-action.js';
import { createLogger } from '../../lib/logger.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DEFAULT_FIXTURES = process.env.MPU_FIXTURES_DIR ?? path.resolve(here, '../../../../shared/fixtures/real');

const positive =
  (name: string, integer = true) =>
  (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
      throw new InvalidArgumentError(`${name} must be a positive ${integer ? 'whole ' : ''}number`);
    return n;
  };

function formatReport(r: DemoReport): string {
  const lines: string[] = [
    '',
    'app                                         version  bump     approval   change -> detected   reached   slowest installation',
  ];
  for (const v of r.versions) {
    const app = v.appId
      .replace(/^ari:cloud:ecosystem::app\//, 'forge:')
      .slice(0, 42)
      .padEnd(42);
    const slow =
      v.approval === 'manual' && v.bump !== 'initial'
        ? `admins approve (${v.unapprovedUpgrades} without approval)`
        : v.maxDelayHours === null
          ? '-'
          : v.kind === 'forge'
            ? `${Math.round(v.maxDelayHours * 60)} min after the deploy (median ${Math.round((v.p50DelayHours ?? 0) * 60)} min)`
            : `${v.maxDelayHours} h after the change (median ${v.p50DelayHours} h)`;
    lines.push(
      `${app}  ${v.version.padEnd(7)}  ${v.bump.padEnd(7)}  ${v.approval.padEnd(9)}  ${`${v.detectionHours} h`.padStart(9)}          ${`${Math.round(v.reachedPercent)}%`.padStart(5)}    ${slow}`,
    );
  }
  const b = r.bounds;
  const mark = (ok: boolean) => (ok ? 'held' : 'BROKEN');
  const notExercised = 'not exercised (nothing measured: no automatic version of this kind rolled out in the run)';
  lines.push('');
  lines.push(
    b.connectAutomaticHours.worst === null
      ? `Connect automatic (limit 33 h after the change): ${notExercised}`
      : `Connect automatic: every installation within ${b.connectAutomaticHours.worst} h of the change (limit 33 h): ${mark(b.connectAutomaticHours.held)}`,
  );
  lines.push(
    b.forgeAutomaticMinutes.worst === null
      ? `Forge automatic (limit: minutes, or a maintenance window's end ≤ 4 h later): ${notExercised}`
      : `Forge automatic: within ${b.forgeAutomaticMinutes.worst} min of the deploy (limit: minutes, or a maintenance window's end ≤ 4 h later: ${b.forgeAutomaticMinutes.limit} min): ${mark(b.forgeAutomaticMinutes.held)}`,
  );
  lines.push(
    `Manual versions taken without approval: ${b.manualWithoutApproval.count}: ${mark(b.manualWithoutApproval.held)}; admin approvals applied: ${r.approvals}`,
  );
  lines.push(
    `Installations that missed an automatic version they were due: ${b.missing.count}: ${mark(b.missing.held)}`,
  );
  return lines.join('\n');
}

/** Registers `demo` on `program`. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .summary('run the whole pipeline on real descriptor histories, on a compressed clock')
    .description(
      'Runs poller, versioning and rollout on the local Redis (REDIS_URL, default 127.0.0.1:6379, or the ' +
        'Redis Cluster of REDIS_CLUSTER_NODES) on a ' +
        'compressed clock: a local server serves real Connect descriptor histories from ../shared/fixtures/real, ' +
        'changing every few simulated hours; real Forge manifests arrive as signed deploy events; generated ' +
        'installations (with maintenance windows) take each version, and some admins approve manual ones. ' +
        'Ends with the rollout promises checked: Connect automatic within 33 h of the change, Forge within ' +
        'minutes, no manual version without approval. Uses a fresh key prefix, deleted at the end.',
    )
    .option('--fixtures <dir>', 'the real fixtures folder', DEFAULT_FIXTURES)
    .option('--apps <list>', `comma-separated kind/folder names (default: ${DEFAULT_DEMO_APPS.length} chosen apps)`)
    .option('--installations <n>', 'installations per app', positive('--installations'), 500)
    .option('--hours <n>', 'simulated hours to run', positive('--hours'), 72)
    .option('--speed <n>', 'simulated hours per real second', positive('--speed', false), 1)
    .option(
      '--change-every <hours>',
      'a new descriptor version or deploy every this many simulated hours',
      positive('--change-every', false),
      8,
    )
    .option(
      '--approve-share <share>',
      'share of admins who approve a manual version (0..1)',
      (v) => Math.min(1, Math.max(0, Number(v))),
      0.5,
    )
    .option('--log-level <level>', 'daemon logs on stderr at this level (pino: warn, info, debug…)', 'silent')
    .option('--keep', 'keep the demo keys in Redis (prefix printed) to inspect with mpu versions / rollouts')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  mpu demo\n  mpu demo --hours 48 --speed 2 --installations 2000\n\nExit status: 0 every promise held; 1 one did not, or was not exercised (nothing measured); 64 --hours too short (34 + 2 × --change-every); 69 no Redis.',
    )
    .action(
      runAction(
        async (opts: {
          fixtures: string;
          apps?: string;
          installations: number;
          hours: number;
          speed: number;
          changeEvery: number;
          approveShare: number;
          keep?: boolean;
          json?: boolean;
          logLevel: string;
        }) => {
          const min = minDemoHours(opts.changeEvery);
          if (opts.hours < min)
            throw new AppError(
              ErrorCode.USAGE_INVALID,
              `--hours ${opts.hours} is too short for changes every ${opts.changeEvery} h: at least ${min} (changes stop 34 h before the end so every rollout can finish, and each app's first change comes within two intervals; or lower --change-every)`,
            );
          const report = await runDemo({
            redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
            redisClusterNodes: process.env.REDIS_CLUSTER_NODES || undefined,
            fixturesDir: opts.fixtures,
            apps: opts.apps
              ?.split(',')
              .map((s) => s.trim())
              .filter(Boolean),
            installationsPerApp: opts.installations,
            hours: opts.hours,
            speed: opts.speed * 3600,
            changeEveryHours: opts.changeEvery,
            approveShare: opts.approveShare,
            keep: opts.keep,
            logger: createLogger({ level: opts.logLevel, name: 'mpu-demo' }),
            onProgress: opts.json ? undefined : (line) => process.stdout.write(line + '\n'),
          });
          if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
          else process.stdout.write(formatReport(report) + '\n');
          if (!report.held) process.exitCode = 1;
        },
      ),
    );
}
