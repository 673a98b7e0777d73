/**
 * `mpu forge version bulk-upgrade start|list|cancel`, as Atlassian's `forge version bulk-upgrade`
 * (DESIGN.md "Distribution rules", seeds 000/001): the use cases of src/app/rollout/bulk-upgrades.ts
 * on the Redis context of the environment; a running daemon's workers carry the upgrade out.
 * `start` and `cancel` leave an audit entry.
 */
import type { Command } from 'commander';
import { openContext } from '../../main.js';
import { AppError, ErrorCode } from '../../lib/errors.js';
import {
  cancelBulkUpgrade,
  listBulkUpgrades,
  startBulkUpgrade,
  type BulkUpgradeDryRun,
  type BulkUpgradeView,
} from '../../app/rollout/bulk-upgrades.js';
import { BULK_SKIP_WORDS, type BulkSkipReason } from '../../rollout/bulk-upgrade.js';
import { audited, cliActor } from '../audit.js';
import { runAction } from '../run-action.js';

const out = (s: string): void => void process.stdout.write(s + '\n');

function major(name: string, s: string): number {
  if (!/^\d{1,6}$/.test(s))
    throw new AppError(ErrorCode.INPUT_INVALID, `${name} must be a major version number (got '${s}')`);
  return Number(s);
}

const days = (ms: number) =>
  ms % 86_400_000 === 0 ? `${ms / 86_400_000} days` : `${Math.round(ms / 3_600_000)} hours`;

function failures(f: Partial<Record<BulkSkipReason, number>>): string {
  return Object.entries(f)
    .map(([r, n]) => `${n} ${BULK_SKIP_WORDS[r as BulkSkipReason]}`)
    .join('; ');
}

function describe(b: BulkUpgradeView): string {
  const lines = [
    `bulk upgrade ${b.id} of ${b.appId} (${b.environment}): ${b.status}`,
    `  from ${b.from} (major ${b.fromMajor}) to ${b.to}, started ${b.startedAt} by ${b.account}` +
      (b.completedAt ? `, finished ${b.completedAt}` : ''),
    `  completed ${b.completed}, pending ${b.pending}, failed ${b.failed}` +
      (b.planned ? '' : ' (still listing installations)'),
  ];
  if (b.failed) lines.push(`  failed: ${failures(b.failures)}`);
  if (b.expiresAt) lines.push(`  record kept until ${b.expiresAt}`);
  return lines.join('\n');
}

function describeDryRun(d: BulkUpgradeDryRun): string {
  const lines = [
    `dry run: ${d.wouldMove} installation(s) of ${d.appId} would move from major ${d.fromMajor} (${d.from}) to ${d.to}` +
      (d.deferred ? ` (${d.deferred} at the end of their maintenance window, within 4 h)` : ''),
  ];
  for (const f of d.wouldFail) lines.push(`  ${f.count} would not: ${f.words} [${f.reason}]`);
  if (d.refusedBy) lines.push(`  a start now would be refused: ${d.refusedBy}`);
  return lines.join('\n');
}

/** Registers `version bulk-upgrade …` under the `forge` command. */
export function registerBulkUpgradeCommands(forge: Command): void {
  const bulk = forge
    .command('version')
    .description('Forge app versions')
    .command('bulk-upgrade')
    .description(
      'move installations on an older major version to a newer one without admin approval, when eligible ' +
        '(same environment, target greater, no new scopes or egress, licensing unchanged)',
    );
  bulk
    .command('start')
    .requiredOption('--app <ari>', 'Forge app ARI')
    .requiredOption('--env <environment>', 'environment (production: the only one with versions)')
    .requiredOption('--from <major>', 'source major version, e.g. 2')
    .requiredOption('--to <major>', 'target major version, e.g. 3 (its newest version is installed)')
    .option('--installations <ids>', 'only these installations, comma-separated (default: every one on --from)')
    .option('--account <name>', 'developer account it counts against (default: the --actor or OS user)')
    .option('--dry-run', 'print how many would move and why any would not; change nothing')
    .option('--json', 'machine-readable output')
    .description('start a bulk upgrade; the daemon carries it out (any number of installations)')
    .action(
      runAction(
        async (opts: {
          app: string;
          env: string;
          from: string;
          to: string;
          installations?: string;
          account?: string;
          dryRun?: boolean;
          json?: boolean;
        }) => {
          const req = {
            appId: opts.app,
            environment: opts.env,
            from: major('--from', opts.from),
            to: major('--to', opts.to),
            installations: opts.installations?.split(','),
            account: opts.account ?? cliActor().slice('cli:'.length),
          };
          const { ctx, audit, close } = await openContext();
          try {
            if (opts.dryRun) {
              const d = (await startBulkUpgrade(ctx, req, { dryRun: true })) as BulkUpgradeDryRun;
              return out(opts.json ? JSON.stringify(d) : describeDryRun(d));
            }
            const b = await audited(
              { audit, clock: ctx.clock },
              'bulk-upgrade.start',
              { app: opts.app },
              async (note) => {
                const r = (await startBulkUpgrade(ctx, req)) as BulkUpgradeView;
                note.target.bulkUpgrade = r.id;
                note.target.count = req.installations?.length;
                return r;
              },
            );
            out(
              opts.json
                ? JSON.stringify(b)
                : `${describe(b)}\n  follow it with: mpu forge version bulk-upgrade list --app ${b.appId}`,
            );
          } finally {
            await close();
          }
        },
      ),
    );
  bulk
    .command('list')
    .requiredOption('--app <ari>', 'Forge app ARI')
    .option('--json', 'machine-readable output: an array of bulk upgrades')
    .description("an app's bulk upgrades, newest first (finished ones are kept for a limited time)")
    .action(
      runAction(async (opts: { app: string; json?: boolean }) => {
        const { ctx, close } = await openContext();
        try {
          const l = await listBulkUpgrades(ctx, opts.app);
          if (opts.json) return out(JSON.stringify(l.bulkUpgrades));
          out(
            `bulk upgrades of ${l.appId}: ${l.bulkUpgrades.length} (records are deleted ${days(l.retentionMs)} after they finish)`,
          );
          if (l.bulkUpgrades.length === 0) return;
          const head = ['ID', 'STATUS', 'FROM', 'TO', 'COMPLETED', 'PENDING', 'FAILED', 'STARTED', 'COMPLETED AT'];
          const rows = l.bulkUpgrades.map((b) => [
            b.id,
            b.status,
            b.from,
            b.to,
            String(b.completed),
            String(b.pending),
            String(b.failed),
            b.startedAt,
            b.completedAt ?? '-',
          ]);
          const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
          for (const r of [head, ...rows])
            out(
              r
                .map((c, i) => c.padEnd(w[i]!))
                .join('  ')
                .trimEnd(),
            );
        } finally {
          await close();
        }
      }),
    );
  bulk
    .command('cancel')
    .requiredOption('--app <ari>', 'Forge app ARI')
    .requiredOption('--id <id>', 'bulk upgrade id (from start or list)')
    .option('--json', 'machine-readable output')
    .description('cancel a running bulk upgrade: pending installations stay where they are, moved ones stay moved')
    .action(
      runAction(async (opts: { app: string; id: string; json?: boolean }) => {
        const { ctx, audit, close } = await openContext();
        try {
          const b = await audited(
            { audit, clock: ctx.clock },
            'bulk-upgrade.cancel',
            { app: opts.app, bulkUpgrade: opts.id },
            () => cancelBulkUpgrade(ctx, opts.id, opts.app),
          );
          out(opts.json ? JSON.stringify(b) : describe(b));
        } finally {
          await close();
        }
      }),
    );
}
