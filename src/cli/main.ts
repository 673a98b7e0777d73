/**
 * `mpu` entry point: builds the commander program from the command groups and runs it.
 * Each group lives in src/cli/commands/ and registers its own subcommands.
 */
import { Command } from 'commander';
import { registerVersioningCommands } from './commands/versioning.js';
import { registerDaemonCommands } from './commands/daemon.js';
import { registerRolloutCommands } from './commands/rollout.js';
import { registerDemoCommand } from './commands/demo.js';
import { exitQuietlyOnClosedStdout } from './run-action.js';

export function buildProgram(): Command {
  const program = new Command('mpu')
    .description(
      'marketplace-updater: detects Connect descriptor changes and Forge deploys, versions them by the ' +
        'Marketplace rules (automatic or admin approval) and rolls each version out to every installation.',
    )
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)');
  registerVersioningCommands(program);
  registerDaemonCommands(program);
  registerRolloutCommands(program);
  registerDemoCommand(program);
  return program;
}

exitQuietlyOnClosedStdout();
await buildProgram().parseAsync(process.argv);
