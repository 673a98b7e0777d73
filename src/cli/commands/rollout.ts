import type { Command } from 'commander';

/** installations, approve, rollouts, demo (issue 4). */
export function registerRolloutCommands(_program: Command): void {}
