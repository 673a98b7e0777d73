/**
 * Versioning benchmark: classifies every labelled fixture pair (../shared/fixtures/real,
 * or MPU_FIXTURES_DIR) many times on one core and prints pairs/s and p99 latency, next to a
 * baseline measured in the same run: bare `JSON.parse` of both versions plus a generic deep diff
 * (microdiff) on the same pairs. Forge manifests are YAML: the baseline is given them already
 * converted to JSON text (outside its timing), so its parse is the cheaper JSON.parse.
 *
 * Three figures per side:
 * - per change: the previous version is already parsed (stored, or the previous replay step) and
 *   the new one arrives as text: parse it + classify. This is what a poll or a replay pays.
 * - classify only: both parsed; the classifier alone vs the deep diff alone.
 * - both from text: parse both + classify, vs JSON.parse both + deep diff.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import diff from 'microdiff';
import { parse as parseYaml } from 'yaml';
import { classifyChange, parseDescriptor, type ParsedDescriptor } from '../src/versioning/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = process.env.MPU_FIXTURES_DIR ?? path.resolve(here, '../../shared/fixtures/real');

interface Pair {
  kind: 'connect' | 'forge';
  a: string;
  b: string;
  aJson: string;
  bJson: string;
  pa: ParsedDescriptor;
  pb: ParsedDescriptor;
  oa: unknown;
  ob: unknown;
}

function loadPairs(): Pair[] {
  const lines = readFileSync(path.join(FIXTURES, 'expected.jsonl'), 'utf8').split('\n').filter(Boolean);
  const pairs: Pair[] = [];
  for (const l of lines) {
    const e = JSON.parse(l) as { kind: 'connect' | 'forge'; from_file: string; to_file: string };
    const a = readFileSync(path.join(FIXTURES, e.from_file), 'utf8');
    const b = readFileSync(path.join(FIXTURES, e.to_file), 'utf8');
    let pa: ParsedDescriptor, pb: ParsedDescriptor;
    try {
      pa = parseDescriptor(a, { source: e.from_file, kind: e.kind });
      pb = parseDescriptor(b, { source: e.to_file, kind: e.kind });
    } catch {
      continue; // the two unparseable fixture versions: nothing to classify
    }
    const toJson = (t: string, p: ParsedDescriptor) =>
      e.kind === 'forge' ? JSON.stringify(parseYaml(t)) : JSON.stringify(p.document);
    pairs.push({
      kind: e.kind,
      a,
      b,
      aJson: toJson(a, pa),
      bJson: toJson(b, pb),
      pa,
      pb,
      oa: JSON.parse(toJson(a, pa)),
      ob: JSON.parse(toJson(b, pb)),
    });
  }
  return pairs;
}

interface Figures {
  perSecond: number;
  p50us: number;
  p99us: number;
}

/** Runs `fn` over every pair for at least `ms`, after a warm-up; per-pair latencies sampled. */
function measure(pairs: Pair[], fn: (p: Pair) => unknown, ms = 1500): Figures {
  for (let i = 0; i < 3; i++) for (const p of pairs) fn(p);
  const lat: number[] = [];
  let n = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (const p of pairs) {
      const t0 = process.hrtime.bigint();
      fn(p);
      const t1 = process.hrtime.bigint();
      lat.push(Number(t1 - t0) / 1000);
      n++;
      now = t1;
    }
  }
  const secs = Number(now - start) / 1e9;
  lat.sort((x, y) => x - y);
  const q = (f: number) => lat[Math.min(lat.length - 1, Math.floor(f * lat.length))]!;
  return { perSecond: n / secs, p50us: q(0.5), p99us: q(0.99) };
}

const fmt = (f: Figures) =>
  `${Math.round(f.perSecond).toLocaleString('en-US').padStart(9)} pairs/s  p50 ${f.p50us.toFixed(1).padStart(6)} µs  p99 ${f.p99us.toFixed(1).padStart(7)} µs`;

export async function run(): Promise<void> {
  const all = loadPairs();
  console.log(
    `fixture pairs: ${all.length} (${all.filter((p) => p.kind === 'connect').length} connect, ${all.filter((p) => p.kind === 'forge').length} forge), one core`,
  );
  const ours = (p: Pair) => {
    const a = parseDescriptor(p.a, { source: 'a', kind: p.kind });
    const b = parseDescriptor(p.b, { source: 'b', kind: p.kind });
    return classifyChange(a, b);
  };
  const baseline = (p: Pair) => diff(JSON.parse(p.aJson), JSON.parse(p.bJson));
  const oursParsed = (p: Pair) => classifyChange(p.pa, p.pb);
  const oursChange = (p: Pair) => classifyChange(p.pa, parseDescriptor(p.b, { source: 'b', kind: p.kind }));
  const baselineChange = (p: Pair) => diff(p.oa as Record<string, unknown>, JSON.parse(p.bJson));
  const baselineParsed = (p: Pair) => diff(p.oa as Record<string, unknown>, p.ob as Record<string, unknown>);

  for (const [label, pairs] of [
    ['all pairs', all],
    ['connect (JSON)', all.filter((p) => p.kind === 'connect')],
    ['forge (YAML)', all.filter((p) => p.kind === 'forge')],
  ] as const) {
    const rows: Array<[string, Figures, Figures]> = [
      ['per change', measure(pairs, oursChange), measure(pairs, baselineChange)],
      ['classify only', measure(pairs, oursParsed), measure(pairs, baselineParsed)],
      ['both from text', measure(pairs, ours), measure(pairs, baseline)],
    ];
    console.log(`\n${label}`);
    for (const [name, o, b] of rows) {
      console.log(`  ${name.padEnd(15)} mpu      ${fmt(o)}`);
      console.log(
        `  ${''.padEnd(15)} baseline ${fmt(b)}   mpu time / baseline time = ${(b.perSecond / o.perSecond).toFixed(2)}x`,
      );
    }
  }
  console.log(
    '\ntargets: >= 20,000 pairs/s on one core; mpu time within 3x of the baseline (baseline = JSON.parse + microdiff)',
  );
}
