/**
 * The rollout command group: `installations import|generate|list|show`, `approve`,
 * `rollouts list|show|pause|resume|halt`, `distribution`. Implementations in installations.ts;
 * `installations why|update-check` and `approvals list` in installation-checks.ts;
 * `rollouts phase|advance|complete|report-failure` in phased.ts.
 */
import type { Command } from 'commander';
import { runAction } from '../run-action.js';
import {
  approveCommand,
  controlRolloutCommand,
  distributionCommand,
  generateInstallationsCommand,
  importInstallations,
  listInstallationsCommand,
  listRolloutsCommand,
  showInstallationCommand,
  showRolloutCommand,
} from './installations.js';
import { registerClientKeyCommand } from './distribution.js';
import { registerInstallationCheckCommands } from './installation-checks.js';
import { registerRolloutPhaseCommands } from './phased.js';

/** installations, approve, rollouts, distribution. */
export function registerRolloutCommands(program: Command): void {
  const inst = program
    .command('installations')
    .description('register, generate and inspect installations of apps (Redis at REDIS_URL)');
  inst
    .command('import')
    .argument('<file>', 'JSON Lines file: one installation per line')
    .description(
      'register installations from a JSON Lines file; the whole file is validated first, nothing is stored if a line is bad. ' +
        'Known installations keep their version (it only moves forward through upgrades); their other fields are updated.',
    )
    .addHelpText(
      'after',
      '\nLine format (one JSON object a line; checkTime: UTC daily update check, default stable per id):\n' +
        '  {"id":"<clientKey>","appId":"my-app","site":"acme.atlassian.net","products":["jira"],"version":"1.0.0",\n' +
        '   "checkTime":"03:15",\n' +
        '   "maintenance":{"timeZone":"Europe/Berlin","weekly":[{"day":6,"start":"22:00","minutes":240}],\n' +
        '                  "adHoc":[{"start":<ms>,"end":<ms>}]}}',
    )
    .option('--json', 'machine-readable output')
    .action(runAction((file: string, opts: { json?: boolean }) => importInstallations(file, opts)));
  inst
    .command('generate')
    .description(
      'store a generated, reproducible population (check times spread over the day; ~60 % with maintenance windows)',
    )
    .requiredOption('--app <app>', 'app id')
    .requiredOption('--count <n>', 'how many installations')
    .option('--seed <s>', 'PRNG seed (same seed, same population)', '1')
    .option('--current <version>', "version they run (default: the app's latest stored version)")
    .option('--json', 'machine-readable output')
    .action(
      runAction((opts: { app: string; count: string; seed: string; current?: string; json?: boolean }) =>
        generateInstallationsCommand(opts),
      ),
    );
  inst
    .command('list')
    .description('list installations of an app in registration order')
    .requiredOption('--app <app>', 'app id')
    .option('--offset <n>', 'skip this many', '0')
    .option('--limit <n>', 'at most this many (≤ 1000)', '20')
    .option('--json', 'machine-readable output')
    .action(
      runAction((opts: { app: string; offset: string; limit: string; json?: boolean }) =>
        listInstallationsCommand(opts),
      ),
    );
  inst
    .command('show')
    .argument('<installation>', 'installation id (clientKey)')
    .description('one installation: version, approvals, "update available", maintenance windows and its history')
    .option('--json', 'machine-readable output')
    .action(runAction((id: string, opts: { json?: boolean }) => showInstallationCommand(id, opts)));
  registerClientKeyCommand(inst);
  registerInstallationCheckCommands(program, inst);

  program
    .command('approve')
    .argument('<installation>', 'installation id (clientKey)')
    .argument('[version]', 'version to approve (default: the newest published); approves every manual version up to it')
    .summary('approve a version for an installation (admin approval of a manual update)')
    .description(
      'approve a version for an installation, as its admin would: it is upgraded to the newest version it may now have, at once or at the end of its maintenance window (at most 4 h); the daemon applies the upgrade',
    )
    .option('--json', 'machine-readable output')
    .action(
      runAction((installation: string, version: string | undefined, opts: { json?: boolean }) =>
        approveCommand(installation, version, opts),
      ),
    );

  const ro = program.command('rollouts').description('inspect and control rollouts (one per app version: APP@VERSION)');
  ro.command('list')
    .description('rollouts, newest first, with status, progress and plan summary (p50/p99/max delay)')
    .option('--app <app>', 'only this app')
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'machine-readable output')
    .action(runAction((opts: { app?: string; limit: string; json?: boolean }) => listRolloutsCommand(opts)));
  ro.command('show')
    .argument('<rollout>', 'APP@VERSION, e.g. my-app@1.0.3')
    .description('one rollout with progress and its time buckets')
    .option('--json', 'machine-readable output')
    .action(runAction((id: string, opts: { json?: boolean }) => showRolloutCommand(id, opts)));
  const help = {
    pause: 'pause: pending batches wait until resumed',
    resume: 'resume a paused rollout',
    halt: 'halt for good: pending batches do nothing (upgraded installations stay upgraded)',
  };
  for (const action of ['pause', 'resume', 'halt'] as const) {
    ro.command(action)
      .argument('<rollout>', 'APP@VERSION')
      .description(help[action])
      .option('--json', 'machine-readable output')
      .action(runAction((id: string, opts: { json?: boolean }) => controlRolloutCommand(action, id, opts)));
  }
  registerRolloutPhaseCommands(ro);

  program
    .command('distribution')
    .argument('<app>', 'app id')
    .description('how many installations run each version of an app')
    .option('--json', 'machine-readable output')
    .action(runAction((app: string, opts: { json?: boolean }) => distributionCommand(app, opts)));
}
