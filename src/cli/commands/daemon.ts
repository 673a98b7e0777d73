import type { Command } from 'commander';

/** daemon, apps, versions, poll, forge deploy (issue 3). */
export function registerDaemonCommands(_program: Command): void {}
