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
        'Config from the environment: REDIS_URL (or REDIS_CLUSTER_NODES=host:port,… for a Redis Cluster), PORT, HOST, MPU_PREFIX, MPU_WEBHOOK_SECRET (deploy-event HMAC), ' +
        "MPU_POLL_INTERVAL (5h), MPU_SCHEDULER_CRON, MPU_POLL_CONCURRENCY (50), MPU_POLL_BATCH_SIZE (250), MPU_FETCH_ALLOW_NETWORKS (CIDRs), MPU_FETCH_EXTRA_PORTS, MPU_NOTIFY_WEBHOOK_URL, MPU_ADOPTION_WINDOW (120h: Connect to Forge adoptions), MPU_JOB_LOCK (30s: how soon another daemon takes over a dead one's jobs), LOG_LEVEL…\n\n" +
        'Security (README "Security"):\n' +
        '  MPU_OPERATOR_TOKENS=alice:TOKEN,…  operators: every route and bull-board (required with the HTTP API; token ≥ 24 characters)\n' +
        '  MPU_VIEWER_TOKENS=grafana:TOKEN,…  viewers: every GET, /metrics included\n' +
        '  MPU_APPROVAL_SECRET                signs approval links (≥ 16 characters; default: derived from MPU_WEBHOOK_SECRET)\n' +
        '  MPU_PUBLIC_URL                     base of approval links (default http://HOST:PORT)\n' +
        '  MPU_APPROVAL_LINK_TTL (7d)         how long an approval link is valid\n' +
        '  MPU_DEPLOY_RATE_LIMIT (120), MPU_APPROVAL_RATE_LIMIT (30) per client IP and MPU_RATE_LIMIT_WINDOW (1m)\n' +
        '  MPU_AUDIT_MAX_LEN (100000)         audit entries kept (mpu audit, GET /v1/audit)\n\n' +
        'Rollout control (README "Controlling a rollout"):\n' +
        '  MPU_RECONCILE_INTERVAL (1h)        how often the reconciliation sweep upgrades overdue installations\n' +
        '  MPU_RECONCILE_GRACE (5m)           how late past its promised time an installation counts as overdue\n' +
        '  MPU_APPROVAL_REMINDER_INTERVAL (3d) reminders of a pending approval to its admins\n\n' +
        'Bulk upgrades (README "Bulk upgrades"):\n' +
        '  MPU_BULK_UPGRADE_LIMIT (10)        global limit of running bulk upgrades\n' +
        '  MPU_BULK_UPGRADE_RETENTION (30d)   how long finished ones stay listed\n\n' +
        'Controlling a rollout (README "Controlling a rollout"):\n' +
        '  MPU_ERROR_BUDGET_COUNT (5), MPU_ERROR_BUDGET_RATIO (0.05)  a rollout pauses past max(count, ratio × upgraded) failures\n' +
        "  MPU_PHASED_PAUSE_CAP (30d)         a phased release's total pause before it resumes by itself",
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
