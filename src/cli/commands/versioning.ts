import type { Command } from 'commander';

/** diff, replay (issue 2). */
export function registerVersioningCommands(_program: Command): void {}
