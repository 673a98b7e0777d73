/**
 * The CLI of phased releases and the error budget (src/app/rollout/phased-release.ts):
 * `mpu apps phased-release set|clear|show APP`, `mpu rollouts phase|advance|complete APP@V`,
 * `mpu rollouts report-failure APP@V --installation ID`. Each change is audited.
 */
import type { Command } from 'commander';
import { runAction } from '../run-action.js';
import { audited, cliActor } from '../audit.js';
import { AppError, ErrorCode } from '../../lib/errors.js';
import { parseDuration } from '../../config/config.js';
import { parseRolloutId } from '../../store/rollout-store.js';
import { PHASE_PRESETS, type PhaseSchedule } from '../../rollout/phased-release.js';
import { advancePhases, phaseRollout, reportFailure, setAppPhasedRelease } from '../../app/rollout/phased-release.js';
import { showRollout } from '../../app/rollout/rollouts.js';
import { describeRollout, withRolloutContext } from './installations.js';

const out = (s: string): void => void process.stdout.write(s + '\n');

interface ScheduleOptions {
  preset?: string;
  schedule?: string;
  interval?: string;
}

/**
 * The schedule the options give: `--preset NAME`, or `--schedule 1,2,5,…,100 --interval 24h`.
 * @throws AppError input-invalid
 */
export function scheduleFromOptions(o: ScheduleOptions): string | { percents: number[]; intervalMs: number } {
  if (o.preset !== undefined && (o.schedule !== undefined || o.interval !== undefined))
    throw new AppError(ErrorCode.INPUT_INVALID, 'give --preset, or --schedule with --interval, not both');
  if (o.preset !== undefined) return o.preset;
  if (o.schedule === undefined || o.interval === undefined)
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `give --preset (${Object.keys(PHASE_PRESETS).join(', ')}), or --schedule PERCENTS --interval DURATION`,
    );
  const percents = o.schedule.split(',').map((p) => Number(p.trim().replace(/%$/, '')));
  if (percents.some((p) => !Number.isFinite(p)))
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `--schedule '${o.schedule}': percentages separated by commas, e.g. 1,2,5,10,20,50,100`,
    );
  const intervalMs = parseDuration(o.interval);
  if (intervalMs === null)
    throw new AppError(ErrorCode.INPUT_INVALID, `--interval '${o.interval}' is not a duration (e.g. 24h, 10m)`);
  return { percents, intervalMs };
}

/** `1, 2, 5, 10, 20, 50, 100 % every 24 h` */
export function describeSchedule(s: PhaseSchedule): string {
  const ms = s.intervalMs;
  const every =
    ms % 86_400_000 === 0
      ? `${ms / 86_400_000} d`
      : ms % 3_600_000 === 0
        ? `${ms / 3_600_000} h`
        : ms % 60_000 === 0
          ? `${ms / 60_000} min`
          : `${ms / 1000} s`;
  return `${s.percents.join(', ')} % every ${every}`;
}

const scheduleHelp =
  "\nSchedules: --preset apple (1, 2, 5, 10, 20, 50, 100 % a day apart, Apple's 7 days) or forge (the same every 10 minutes),\n" +
  'or --schedule 5,25,50,100 --interval 6h (increasing percentages ending at 100; durations like 24h, 30m).';

async function showAfter(id: string, json: boolean | undefined): Promise<void> {
  const { appId, version } = parseRolloutId(id);
  const r = await withRolloutContext((ctx) => showRollout(ctx, appId, version));
  out(json ? JSON.stringify(r) : describeRollout(r));
}

/** `mpu apps phased-release …` under `apps`. */
export function registerAppPhasedReleaseCommands(apps: Command): void {
  const pr = apps
    .command('phased-release')
    .description("an app's phased release of automatic versions (off by default: Atlassian's windows)");
  pr.command('set')
    .argument('<app>', 'app id')
    .description(
      'roll every automatic version published from now on out in phases: each phase releases it to a larger stable cohort of installations',
    )
    .option('--preset <name>', 'a named schedule: apple or forge')
    .option('--schedule <percents>', 'percentages, e.g. 1,2,5,10,20,50,100')
    .option('--interval <duration>', 'time between phases, e.g. 24h')
    .option('--json', 'machine-readable output')
    .addHelpText('after', scheduleHelp)
    .action(
      runAction(async (appId: string, opts: ScheduleOptions & { json?: boolean }) => {
        const schedule = scheduleFromOptions(opts);
        const s = await withRolloutContext((ctx, audit) =>
          audited({ audit, clock: ctx.clock }, 'app.phased-release', { app: appId }, () =>
            setAppPhasedRelease(ctx, appId, schedule),
          ),
        );
        out(
          opts.json ? JSON.stringify({ appId, phasedRelease: s }) : `${appId}: phased release ${describeSchedule(s!)}`,
        );
      }),
    );
  pr.command('clear')
    .argument('<app>', 'app id')
    .description('turn the phased release off for versions published from now on (rollouts in flight keep theirs)')
    .option('--json', 'machine-readable output')
    .action(
      runAction(async (appId: string, opts: { json?: boolean }) => {
        await withRolloutContext((ctx, audit) =>
          audited({ audit, clock: ctx.clock }, 'app.phased-release', { app: appId }, () =>
            setAppPhasedRelease(ctx, appId, null),
          ),
        );
        out(opts.json ? JSON.stringify({ appId, phasedRelease: null }) : `${appId}: phased release off`);
      }),
    );
  pr.command('show')
    .argument('<app>', 'app id')
    .description("the app's phased release")
    .option('--json', 'machine-readable output')
    .action(
      runAction(async (appId: string, opts: { json?: boolean }) => {
        const app = await withRolloutContext((ctx) => ctx.apps.requireApp(appId));
        const s = app.phasedRelease ?? null;
        out(
          opts.json
            ? JSON.stringify({ appId, phasedRelease: s })
            : `${appId}: phased release ${s ? describeSchedule(s) : 'off'}`,
        );
      }),
    );
}

/** `mpu rollouts phase|advance|complete|report-failure` under `rollouts`. */
export function registerRolloutPhaseCommands(ro: Command): void {
  ro.command('phase')
    .argument('<rollout>', 'APP@VERSION (an automatic version in flight)')
    .description(
      'give a rollout in flight a phased release: its first phase starts now; installations that have the version keep it',
    )
    .option('--preset <name>', 'a named schedule: apple or forge')
    .option('--schedule <percents>', 'percentages, e.g. 1,2,5,10,20,50,100')
    .option('--interval <duration>', 'time between phases, e.g. 24h')
    .option('--json', 'machine-readable output')
    .addHelpText('after', scheduleHelp)
    .action(
      runAction(async (id: string, opts: ScheduleOptions & { json?: boolean }) => {
        const schedule = scheduleFromOptions(opts);
        const { appId, version } = parseRolloutId(id);
        await withRolloutContext((ctx, audit) =>
          audited({ audit, clock: ctx.clock }, 'rollout.phase', { app: appId, version }, () =>
            phaseRollout(ctx, appId, version, schedule),
          ),
        );
        await showAfter(id, opts.json);
      }),
    );
  ro.command('advance')
    .argument('<rollout>', 'APP@VERSION (a phased release)')
    .description("start a phased release's next phase now (its cohort takes the version at their next checks)")
    .option('--to <phase>', 'the phase to reach, 1-based (a retried command then changes nothing)')
    .option('--json', 'machine-readable output')
    .action(
      runAction(async (id: string, opts: { to?: string; json?: boolean }) => {
        const { appId, version } = parseRolloutId(id);
        const to = opts.to === undefined ? undefined : Number(opts.to);
        if (to !== undefined && !Number.isInteger(to))
          throw new AppError(ErrorCode.INPUT_INVALID, `--to '${opts.to}' is not a phase number`);
        await withRolloutContext((ctx, audit) =>
          audited({ audit, clock: ctx.clock }, 'rollout.advance', { app: appId, version }, () =>
            advancePhases(ctx, appId, version, { mode: 'advance', ...(to !== undefined ? { to: to - 1 } : {}) }),
          ),
        );
        await showAfter(id, opts.json);
      }),
    );
  ro.command('complete')
    .argument('<rollout>', 'APP@VERSION (a phased release)')
    .description('release a phased release to all installations now (each takes it at its next check)')
    .option('--json', 'machine-readable output')
    .action(
      runAction(async (id: string, opts: { json?: boolean }) => {
        const { appId, version } = parseRolloutId(id);
        await withRolloutContext((ctx, audit) =>
          audited({ audit, clock: ctx.clock }, 'rollout.complete', { app: appId, version }, () =>
            advancePhases(ctx, appId, version, { mode: 'complete' }),
          ),
        );
        await showAfter(id, opts.json);
      }),
    );
  ro.command('report-failure')
    .argument('<rollout>', 'APP@VERSION')
    .description(
      'record a failed upgrade of one installation (once per installation and version); past the error budget, max(MPU_ERROR_BUDGET_COUNT, MPU_ERROR_BUDGET_RATIO × upgraded), the rollout pauses itself until an operator resumes it',
    )
    .requiredOption('--installation <id>', 'installation id (clientKey)')
    .option('--reason <text>', 'what failed')
    .option('--json', 'machine-readable output')
    .action(
      runAction(async (id: string, opts: { installation: string; reason?: string; json?: boolean }) => {
        const { appId, version } = parseRolloutId(id);
        const r = await withRolloutContext((ctx, audit) =>
          audited(
            { audit, clock: ctx.clock },
            'rollout.report-failure',
            { app: appId, version, installation: opts.installation, ...(opts.reason ? { reason: opts.reason } : {}) },
            () =>
              reportFailure(ctx, {
                installationId: opts.installation,
                appId,
                version,
                ...(opts.reason ? { reason: opts.reason } : {}),
                by: cliActor(),
              }),
          ),
        );
        if (opts.json) return out(JSON.stringify(r));
        out(
          `${r.installationId}: ${r.recorded ? 'failure recorded' : 'failure already recorded'} in ${r.appId}@${r.version}; ${r.reason}` +
            (r.paused
              ? `; rollout paused (resume with 'mpu rollouts resume ${r.appId}@${r.version}')`
              : `; rollout ${r.status}`),
        );
      }),
    );
}
