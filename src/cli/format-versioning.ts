/**
 * Text rendering of classifications and replays for people (the `--json` output is the data).
 */
import type { Classification, Replay, Reason } from '../versioning/index.js';

const approvalWords = (a: string | undefined): string => (a === 'manual' ? 'needs admin approval' : 'automatic');

function reasonLine(r: Reason): string {
  return `  - ${r.detail}  [${r.rule}: ${r.bump}, ${r.approval}]`;
}

/** `connect 1.0.0 -> 1.1.0: minor, needs admin approval` and one line per reason and warning. */
export function formatClassification(c: Classification, from: string, to: string): string {
  const lines: string[] = [];
  if (c.bump === 'none') {
    lines.push(`${c.kind} ${from}: no change (whitespace, key order or set order only): no new version`);
  } else {
    lines.push(`${c.kind} ${from} -> ${to}: ${c.bump}, ${approvalWords(c.approval)}`);
    for (const r of c.reasons) lines.push(reasonLine(r));
  }
  for (const w of c.warnings) lines.push(`  ! warning: ${w.detail}`);
  return lines.join('\n');
}

/** The timeline, one line per entry (reasons indented below), then the summary. */
export function formatReplay(replay: Replay): string {
  const lines: string[] = [];
  for (const e of replay.timeline) {
    const date = (e.date ?? '').slice(0, 10).padEnd(10);
    const label = e.label.padEnd(30);
    if (e.status === 'error') {
      lines.push(`${date}  ${label}  ${'-'.padEnd(7)}  error     no version: ${e.error?.message}`);
      continue;
    }
    if (e.status === 'unchanged') {
      lines.push(`${date}  ${label}  ${String(e.version).padEnd(7)}  none      no version: descriptor unchanged (formatting only)`);
      continue;
    }
    lines.push(`${date}  ${label}  ${String(e.version).padEnd(7)}  ${e.bump.padEnd(8)}  ${e.bump === 'initial' ? 'first version' : approvalWords(e.approval)}`);
    for (const r of e.reasons) lines.push(`${' '.repeat(12)}${reasonLine(r).trimStart()}`);
    for (const w of e.warnings) lines.push(`${' '.repeat(12)}! warning: ${w.detail}`);
  }
  const s = replay.summary;
  lines.push('');
  lines.push(
    `summary: ${s.entries} entries -> ${s.versions} versions (${s.byBump.initial} initial, ${s.byBump.major} major, ${s.byBump.minor} minor, ${s.byBump.micro} micro); ` +
      `${s.manual} need admin approval, ${s.automatic} automatic; ${s.unchanged} unchanged, ${s.errors} unparseable; latest ${s.latestVersion ?? 'none'}`,
  );
  return lines.join('\n');
}
