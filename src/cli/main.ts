/**
 * `mpu` entry point: builds the commander program from the command groups and runs it.
 * Each group lives in src/cli/commands/ and registers its own subcommands.
 */
import { Command, CommanderError } from 'commander';
import { registerVersioningCommands } from './commands/versioning.js';
import { registerDaemonCommands } from './commands/daemon.js';
import { registerRolloutCommands } from './commands/rollout.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerAuditCommand } from './commands/audit.js';
import { registerDistributionCommands } from './commands/distribution.js';
import { setCliActor } from './audit.js';
import { exitQuietlyOnClosedStdout, reportError } from './run-action.js';
import { exitCodeFor } from '../lib/errors.js';

export function buildProgram(): Command {
  const program = new Command('mpu')
    .description(
      'marketplace-updater: detects Connect descriptor changes and Forge deploys, versions them by the ' +
        'Marketplace rules (automatic or admin approval) and rolls each version out to every installation.',
    )
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    // Commander's own parse errors (unknown option, invalid argument, missing subcommand) throw
    // here instead of exiting 1, so they exit with the usage status the README's table gives.
    .exitOverride()
    .option('--actor <name>', 'who the audit trail names for this command (cli:<name>; default: the OS user)')
    .hook('preAction', (_program, action) => {
      try {
        setCliActor(action.optsWithGlobals<{ actor?: string }>().actor);
      } catch (err) {
        reportError(err, process.argv.includes('--json'));
        process.exit(exitCodeFor(err));
      }
    });
  registerVersioningCommands(program);
  registerDaemonCommands(program);
  registerRolloutCommands(program);
  registerDemoCommand(program);
  registerAuditCommand(program);
  registerDistributionCommands(program);
  return program;
}

/**
 * Exit status of a commander parse error: 0 for `--help` and `--version` (commander reports them
 * as errors with exit code 0), else 64, EX_USAGE (README "Errors": `usage-invalid`).
 */
export function usageExitCode(err: CommanderError): number {
  return err.exitCode === 0 ? 0 : 64;
}

exitQuietlyOnClosedStdout();
try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  // commander has already printed the message (and the help hint).
  process.exit(usageExitCode(err));
}
