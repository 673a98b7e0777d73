/**
 * `mpu daemon` and the detection commands: apps, versions, poll, forge deploy.
 */
import type { Command } from 'commander';
import { runAction } from '../run-action.js';
import { registerAppsCommands } from './apps.js';

/** daemon, apps, versions, poll, forge deploy. */
export function registerDaemonCommands(program: Command): void {
  program
    .command('daemon')
    .summary('run the daemon: poll scheduler, HTTP API and workers')
    .description(
      'run the scheduler, the HTTP API (deploy intake, /metrics, /healthz, /admin/queues) and the workers ' +
        '(poll, versioning, rollout) in one process; stops gracefully on SIGTERM/SIGINT.\n\n' +
        'Config from the environment: REDIS_URL, PORT, HOST, MPU_PREFIX, MPU_WEBHOOK_SECRET, MPU_ADMIN_TOKEN, ' +
        'MPU_POLL_INTERVAL (5h), MPU_SCHEDULER_CRON, MPU_POLL_CONCURRENCY (50), MPU_POLL_BATCH_SIZE (250), MPU_FETCH_ALLOW_NETWORKS (CIDRs), MPU_FETCH_EXTRA_PORTS, MPU_NOTIFY_WEBHOOK_URL, LOG_LEVEL…',
    )
    .option('--no-scheduler', 'do not run the poll scheduler')
    .option('--no-http', 'do not run the HTTP API')
    .option('--no-workers', 'do not run the workers')
    .action(
      runAction(async (opts: { scheduler: boolean; http: boolean; workers: boolean }) => {
        const { runDaemon } = await import('../../main.js');
        await runDaemon({ scheduler: opts.scheduler, http: opts.http, workers: opts.workers });
      }),
    );
  registerAppsCommands(program);
}
