/**
 * `mpu audit [--app APP] [--limit N] [--json]`: the audit trail, newest first
 * (src/store/audit-store.ts): time, actor, action, target, outcome and request id.
 */
import type { Command } from 'commander';
import { openContext } from '../../main.js';
import { AppError, ErrorCode } from '../../lib/errors.js';
import type { AuditEntry } from '../../store/audit-store.js';
import { runAction } from '../run-action.js';

const out = (s: string) => void process.stdout.write(s + '\n');

/** The target of an entry in one short column: `app@version installation (n) path`. */
export function describeTarget(e: AuditEntry): string {
  const t = e.target;
  const parts = [
    t.app !== undefined ? `${t.app}${t.version !== undefined ? `@${t.version}` : ''}` : t.version,
    t.installation !== undefined ? `installation ${t.installation}` : undefined,
    t.site !== undefined ? `site ${t.site}` : undefined,
    t.count !== undefined ? `(${t.count})` : undefined,
    t.path,
  ];
  return parts.filter((p) => p !== undefined).join(' ') || '-';
}

/** The entries as a table for people, one line each. */
export function formatAuditTable(entries: readonly AuditEntry[]): string {
  if (entries.length === 0) return 'no audit entries';
  const rows = entries.map((e) => [e.at, e.actor, e.action, e.outcome, describeTarget(e), e.requestId]);
  const head = ['time', 'actor', 'action', 'outcome', 'target', 'request'];
  const widths = head.map((h, i) => Math.min(48, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

/** `mpu audit`. @throws AppError input-invalid for a bad --limit */
export async function auditCommand(opts: { app?: string; limit: string; json?: boolean }): Promise<void> {
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
    throw new AppError(ErrorCode.INPUT_INVALID, `--limit must be an integer from 1 to 10,000 (got '${opts.limit}')`);
  const { audit, close } = await openContext();
  let entries: AuditEntry[];
  try {
    entries = await audit.list({ appId: opts.app, limit });
  } finally {
    await close();
  }
  out(opts.json ? JSON.stringify({ entries }) : formatAuditTable(entries));
}

/** Registers `mpu audit`. */
export function registerAuditCommand(program: Command): void {
  program
    .command('audit')
    .description(
      'the audit trail, newest first: who (token name, link:<installation>, cli:<user>) did what, to what, when, with what outcome',
    )
    .option('--app <app>', 'only entries about this app')
    .option('--limit <n>', 'at most this many (≤ 10,000)', '50')
    .option('--json', 'print JSON')
    .action(runAction((opts: { app?: string; limit: string; json?: boolean }) => auditCommand(opts)));
}
