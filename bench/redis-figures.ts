/**
 * Redis-side figures the rollout benchmarks print (bench/rollout.bench.ts, bench/scale.bench.ts):
 * the server's own ceiling (`redis-benchmark -P 16 -t hset`), the commands a phase cost (INFO
 * commandstats, diffed), the commands this process sent (client side), Redis CPU and memory, and
 * where the bytes of an app's installations go (MEMORY USAGE per key).
 *
 * Commandstats are server-wide: run against a Redis nobody else uses (e.g. `redis-server --port
 * 6479 --save ''` and `REDIS_URL=redis://127.0.0.1:6479`) for clean counts; `otherClients` says
 * how many other connections were open.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { Command, type Redis } from 'ioredis';
import type { Keys } from '../src/store/keys.js';

/** `INFO commandstats` and `INFO cpu` at one moment. */
export interface RedisSnapshot {
  /** Command (lower case, `config|resetstat` style) → calls and µs of Redis CPU. */
  calls: Map<string, { calls: number; usec: number }>;
  /** Redis CPU so far (user + system), seconds. */
  cpuS: number;
}

/** Reads commandstats and CPU. */
export async function redisSnapshot(redis: Redis): Promise<RedisSnapshot> {
  const [stats, cpu] = await Promise.all([redis.info('commandstats'), redis.info('cpu')]);
  const calls = new Map<string, { calls: number; usec: number }>();
  for (const m of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm))
    calls.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  const num = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0);
  return { calls, cpuS: num('used_cpu_user') + num('used_cpu_sys') };
}

/** What a phase cost Redis, between two snapshots. */
export interface RedisCost {
  /** Every command executed, scripts' inner `redis.call`s included (commandstats counts them under their own names). */
  executed: number;
  /** Script invocations (EVALSHA + EVAL). */
  scripts: number;
  /** Redis CPU, seconds. */
  cpuS: number;
  /** Per command: calls and µs, most calls first. */
  top: { cmd: string; calls: number; usec: number }[];
}

/** The difference `b - a`, leaving out the INFO calls that took the snapshots. */
export function redisCost(a: RedisSnapshot, b: RedisSnapshot): RedisCost {
  const top: RedisCost['top'] = [];
  for (const [cmd, v] of b.calls) {
    if (cmd === 'info') continue;
    const before = a.calls.get(cmd) ?? { calls: 0, usec: 0 };
    const calls = v.calls - before.calls;
    if (calls > 0) top.push({ cmd, calls, usec: v.usec - before.usec });
  }
  top.sort((x, y) => y.calls - x.calls);
  const executed = top.reduce((n, c) => n + c.calls, 0);
  const scripts = top.filter((c) => c.cmd === 'evalsha' || c.cmd === 'eval').reduce((n, c) => n + c.calls, 0);
  return { executed, scripts, cpuS: b.cpuS - a.cpuS, top };
}

/** `cmd calls (µs/call)` of the `n` commands with most calls. */
export function describeTop(cost: RedisCost, n = 8): string {
  return cost.top
    .slice(0, n)
    .map((c) => `${c.cmd} ${c.calls} (${(c.usec / c.calls).toFixed(1)} µs)`)
    .join(', ');
}

let sent = 0;
let counting = false;

/**
 * Counts the commands every ioredis connection of this process sends (BullMQ's included):
 * each command is serialised once by `Command.toWritable`, direct or pipelined. These are the
 * client's commands, a script call being one; `RedisCost.executed` adds the scripts' inner calls.
 * @returns a reader of the count so far
 */
export function countClientCommands(): () => number {
  if (!counting) {
    counting = true;
    const proto = Command.prototype as unknown as { toWritable: (...a: unknown[]) => unknown };
    const original = proto.toWritable;
    proto.toWritable = function (this: unknown, ...a: unknown[]) {
      sent++;
      return original.apply(this, a);
    };
  }
  return () => sent;
}

/** `used_memory` (bytes) and the number of other client connections. */
export async function redisMemory(redis: Redis): Promise<{ usedBytes: number; otherClients: number }> {
  const [mem, clients] = await Promise.all([redis.info('memory'), redis.info('clients')]);
  const num = (s: string, k: string) => Number(new RegExp(`^${k}:(\\d+)`, 'm').exec(s)?.[1] ?? 0);
  return { usedBytes: num(mem, 'used_memory'), otherClients: num(clients, 'connected_clients') - 1 };
}

/**
 * MEMORY USAGE of each key (all of its elements sampled), bytes; 0 for a missing key. A list of
 * keys (the buckets of an index) counts as the sum of its keys, read in pipelines of 1,000.
 */
export async function keyBytes(
  redis: Redis,
  keys: Record<string, string | readonly string[]>,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, key] of Object.entries(keys)) {
    const list = typeof key === 'string' ? [key] : key;
    let sum = 0;
    for (let i = 0; i < list.length; i += 1000) {
      const pipe = redis.pipeline();
      for (const k of list.slice(i, i + 1000)) pipe.call('MEMORY', 'USAGE', k, 'SAMPLES', '0');
      for (const [, v] of (await pipe.exec()) ?? []) sum += Number(v ?? 0);
    }
    out[name] = sum;
  }
  return out;
}

/**
 * Runs `redis-benchmark -P 16 -t hset -q` against the server of `url` (the single-core ceiling of
 * this Redis on this machine: pipelined HSETs, 50 clients), then deletes its key (`myhash`).
 * @returns HSET requests per second, or null when redis-benchmark is not installed
 */
export async function redisBenchmarkHset(redis: Redis, url: string, requests = 2_000_000): Promise<number | null> {
  const u = new URL(url);
  const args = ['-h', u.hostname, '-p', u.port || '6379', '-P', '16', '-t', 'hset', '-q', '-n', String(requests)];
  if (u.password) args.push('-a', decodeURIComponent(u.password));
  const out = await new Promise<string | null>((resolve) => {
    let text = '';
    const child = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.on('error', () => resolve(null));
    child.on('close', () => resolve(text));
  });
  await redis.del('myhash');
  // `-q` prints progress lines separated by carriage returns, then `HSET: 1098901.12 requests per second, …`.
  const m = out && /HSET: ([\d.]+) requests per second/.exec(out);
  return m ? Number(m[1]) : null;
}

/** A CPU profile of this process while it runs, written to `file` on `stop` (nothing when `file` is unset). */
export async function startProfile(file: string | undefined): Promise<{ stop(): Promise<void> } | undefined> {
  if (!file) return undefined;
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      await writeFile(file, JSON.stringify(profile));
      session.disconnect();
      console.log(`CPU profile: ${file}`);
    },
  };
}

/** The 1-minute load average, as `uptime` shows it. */
export async function loadAverage(): Promise<string> {
  const { loadavg } = await import('node:os');
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
}

/**
 * The keys of one app's installations and the two bucketed indexes (every bucket: the indexes
 * are cross-app, so their figures are the app's share only when it is the only app), by a short
 * name (for `keyBytes`).
 */
export function installationKeys(keys: Keys, appId: string): Record<string, string | string[]> {
  const buckets = (key: (b: number) => string) => Array.from({ length: keys.indexBuckets }, (_, b) => key(b));
  return {
    ids: keys.installationIds(appId),
    // One record per installation: version, record JSON and history (installation-record.ts).
    data: keys.installationData(appId),
    // The installations with maintenance windows (absent, 0 bytes, when none has any).
    windowed: keys.installationWindowed(appId),
    index: buckets(keys.installationIndexBucket),
    sites: buckets(keys.siteIndexBucket),
  };
}
