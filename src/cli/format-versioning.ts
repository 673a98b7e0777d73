/**
 * Text rendering of classifications and replays for people (the `--json` output is the data).
 */
import type { AdoptionVerdict, Classification, Replay, Reason } from '../versioning/index.js';
import type { ReplayRollout } from '../replay/simulate-replay.js';

const hours = (ms: number): string =>
  ms < 3_600_000 ? `${Math.round(ms / 60_000)} min` : `${(ms / 3_600_000).toFixed(1)} h`;

/**
 * `rollout to N installations: 50% 13.2 h, 99% 27.1 h, 100% 28.4 h after the change`, or how many
 * it reached and what held the others back (a manual version their admins did not approve).
 */
function rolloutLine(r: ReplayRollout): string {
  const d = (t: number | null) => (t === null ? 'never' : hours(t - r.changedAt));
  const approved = r.approved !== undefined ? `; admins of ${r.approved} approved it` : '';
  if (r.reached === 0) {
    return r.approval === 'manual'
      ? `rollout: 0 of ${r.population} installations (each waits for its admin's approval${approved})`
      : `rollout: 0 of ${r.population} installations (held back until ${r.waitingOn} is approved)`;
  }
  if (r.reached < r.population)
    return `rollout: ${r.reached} of ${r.population} installations (50% ${d(r.p50At)}, 99% ${d(r.p99At)} after the change; the others wait for approval of ${r.waitingOn}${approved})`;
  return `rollout to ${r.population} installations: 50% ${d(r.p50At)}, 99% ${d(r.p99At)}, 100% ${d(r.p100At)} after the change${approved}`;
}

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

/** `connect-to-forge 1.2.0 -> 1.3.0: minor, automatic` and one line per reason. */
export function formatAdoption(v: AdoptionVerdict, from: string, to: string): string {
  const lines = [`${v.kind} ${from} -> ${to}: ${v.bump}, ${approvalWords(v.approval)}`];
  for (const r of v.reasons) lines.push(reasonLine(r));
  return lines.join('\n');
}

/** The timeline, one line per entry (reasons indented below, and the simulated rollout when given), then the summary. */
export function formatReplay(replay: Replay, rollouts?: readonly ReplayRollout[]): string {
  const lines: string[] = [];
  const byIndex = new Map((rollouts ?? []).map((r) => [r.index, r]));
  for (const e of replay.timeline) {
    const date = (e.date ?? '').slice(0, 10).padEnd(10);
    const label = e.label.padEnd(30);
    if (e.status === 'error') {
      lines.push(`${date}  ${label}  ${'-'.padEnd(7)}  error     no version: ${e.error?.message}`);
      continue;
    }
    if (e.status === 'unchanged') {
      lines.push(
        `${date}  ${label}  ${String(e.version).padEnd(7)}  none      no version: descriptor unchanged (formatting only)`,
      );
      continue;
    }
    if (e.step === 'adoption') lines.push(`${' '.repeat(12)}-- moves from Connect to Forge --`);
    lines.push(
      `${date}  ${label}  ${String(e.version).padEnd(7)}  ${e.bump.padEnd(8)}  ${e.bump === 'initial' ? 'first version' : approvalWords(e.approval)}${e.step === 'adoption' ? ' (adoption: connect-to-forge)' : ''}`,
    );
    for (const r of e.reasons) lines.push(`${' '.repeat(12)}${reasonLine(r).trimStart()}`);
    for (const w of e.warnings) lines.push(`${' '.repeat(12)}! warning: ${w.detail}`);
    const r = byIndex.get(e.index);
    if (r && e.bump !== 'initial') lines.push(`${' '.repeat(12)}${rolloutLine(r)}`);
  }
  const s = replay.summary;
  lines.push('');
  lines.push(
    `summary: ${s.entries} entries -> ${s.versions} versions (${s.byBump.initial} initial, ${s.byBump.major} major, ${s.byBump.minor} minor, ${s.byBump.micro} micro); ` +
      `${s.manual} need admin approval, ${s.automatic} automatic; ${s.unchanged} unchanged, ${s.errors} unparseable; latest ${s.latestVersion ?? 'none'}`,
  );
  return lines.join('\n');
}
