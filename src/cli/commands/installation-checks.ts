/**
 * `mpu installations why ID`, `mpu installations update-check ID` and `mpu approvals list APP@V`
 * (README "Controlling a rollout"): what an installation's update check answers, why it is not
 * on the latest version, and the approvals of a manual version. Each opens the Redis context
 * from the environment (withRolloutContext) and closes it before returning.
 */
import type { Command } from 'commander';
import { runAction } from '../run-action.js';
import { updateCheck, whyInstallation } from '../../app/rollout/explain.js';
import { APPROVAL_STATES, listApprovals } from '../../app/rollout/approval-notices.js';
import { parseRolloutId } from '../../store/rollout-store.js';
import { withRolloutContext } from './installations.js';

const out = (s: string): void => void process.stdout.write(s + '\n');
const iso = (t: number | null | undefined) => (t === null || t === undefined ? '-' : new Date(t).toISOString());

/** `mpu installations why ID [--json]`. */
export async function whyCommand(id: string, opts: { json?: boolean }): Promise<void> {
  const w = await withRolloutContext((ctx, audit) => whyInstallation(ctx, id, audit));
  if (opts.json) return out(JSON.stringify(w));
  out(
    `${w.installationId} (${w.appId}) runs ${w.current}; latest published ${w.latest ?? '-'}; next daily check ${iso(w.nextCheckAt)}`,
  );
  for (const line of w.words) out(`  - ${line}`);
}

/** `mpu installations update-check ID [--json]`. */
export async function updateCheckCommand(id: string, opts: { json?: boolean }): Promise<void> {
  const u = await withRolloutContext((ctx) => updateCheck(ctx, id));
  out(opts.json ? JSON.stringify(u) : `${u.installationId} (${u.appId}): ${u.message}`);
}

/** `mpu approvals list APP@V [--limit N] [--json]`. */
export async function listApprovalsCommand(rollout: string, opts: { limit: string; json?: boolean }): Promise<void> {
  const { appId, version } = parseRolloutId(rollout);
  const limit = Math.min(10_000, Math.max(0, Number(opts.limit) || 0));
  const l = await withRolloutContext((ctx) => listApprovals(ctx, appId, version, limit));
  if (opts.json) return out(JSON.stringify(l));
  const total = Object.values(l.counts).reduce((a, b) => a + b, 0);
  out(
    `${appId}@${version}: ${total} installation(s) notified: ` +
      APPROVAL_STATES.filter((s) => l.counts[s] > 0 || s === 'pending' || s === 'approved')
        .map((s) => `${l.counts[s]} ${s}`)
        .join(', '),
  );
  for (const r of l.rows)
    out(
      `  ${r.installationId.padEnd(24)} ${r.state.padEnd(10)} notified ${iso(r.notifiedAt)}` +
        `  reminded ${r.remindedAt.length ? r.remindedAt.map(iso).join(', ') : '-'}` +
        `  to ${r.admins.length ? r.admins.join(', ') : `admins of ${r.site ?? '?'}`}`,
    );
  if (l.rows.length < total) out(`  … ${total - l.rows.length} more (--limit)`);
}

/** Adds `why` and `update-check` to the `installations` group, and the `approvals` group. */
export function registerInstallationCheckCommands(program: Command, installations: Command): void {
  installations
    .command('why')
    .argument('<id>', 'installation id (clientKey)')
    .summary('why an installation is not on the latest version, reason by reason')
    .description(
      'why an installation is not on the latest version: each reason in words with times (next daily check, ' +
        'maintenance window deferral, approval needed and notices, blocked behind an unapproved version, ' +
        'rollout paused or halted, overdue, app removed)',
    )
    .option('--json', 'machine-readable output (typed reasons)')
    .action(runAction((id: string, opts: { json?: boolean }) => whyCommand(id, opts)));
  installations
    .command('update-check')
    .argument('<id>', 'installation id (clientKey)')
    .summary('what its daily update check answers now')
    .description(
      "what the installation's daily update check answers now: the version to run, an update that needs its admin's approval (with the approval link), or up to date; and its next check",
    )
    .option('--json', 'machine-readable output')
    .action(runAction((id: string, opts: { json?: boolean }) => updateCheckCommand(id, opts)));
  const approvals = program.command('approvals').description('approvals of manual versions by installations’ admins');
  approvals
    .command('list')
    .argument('<rollout>', 'APP@VERSION of a manual version, e.g. my-app@1.1.0')
    .summary('installations notified of a manual version, and their approvals')
    .description(
      'every installation notified of a manual version: pending, approved, upgraded or superseded; when its admins were notified and reminded',
    )
    .option('--limit <n>', 'at most this many installations listed (the counts cover all)', '100')
    .option('--json', 'machine-readable output')
    .action(runAction((id: string, opts: { limit: string; json?: boolean }) => listApprovalsCommand(id, opts)));
}
