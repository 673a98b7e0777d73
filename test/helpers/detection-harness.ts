/**
 * Test harness for the detection side on a real Redis: a fresh prefix (keys and queue names), a
 * ManualClock, the daemon context, optional workers, a `drain()` that waits (with a timeout) for
 * the poll and versioning queues to empty, and a local HTTP server on 127.0.0.1.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { ManualClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { parseAllowList } from '../../src/poller/address-policy.js';
import type { FetchPolicy } from '../../src/poller/descriptor-fetcher.js';
import { createAppContext, type Runtime } from '../../src/runtime.js';
import type { Settings } from '../../src/app/settings.js';
import { startDetectionWorkers, type DetectionWorkers } from '../../src/workers/start-workers.js';
import { connectTestRedis, deleteKeysWithPrefix, testPrefix } from './redis.js';

export const T0 = Date.parse('2025-01-01T00:00:00Z');

export interface Harness {
  ctx: Runtime;
  clock: ManualClock;
  connection: Redis;
  prefix: string;
  workers?: DetectionWorkers;
  /** Waits until the poll and versioning queues have nothing waiting, active or delayed. */
  drain(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  prefix?: string;
  clock?: ManualClock;
  workers?: boolean;
  settings?: Partial<Settings>;
  fetchPolicy?: Partial<FetchPolicy>;
  /** Whether close() deletes the prefix's keys (false for the second of two daemons). */
  cleanup?: boolean;
}

/** Fetch policy for a local server on `port`: 127.0.0.1 allowed, short timeouts. */
export function localFetchPolicy(port: number, extra: Partial<FetchPolicy> = {}): Partial<FetchPolicy> {
  return {
    allowList: parseAllowList(['127.0.0.1/32']).list,
    allowedPorts: [80, 443, 8080, port],
    connectTimeoutMs: 1_000,
    headersTimeoutMs: 400,
    bodyTimeoutMs: 400,
    totalTimeoutMs: 1_000,
    ...extra,
  };
}

export async function createHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const connection = await connectTestRedis();
  const prefix = opts.prefix ?? testPrefix();
  const clock = opts.clock ?? new ManualClock(T0);
  const ctx = createAppContext(
    { connection, clock, logger: silentLogger, prefix },
    { settings: { pollAttempts: 1, pollBackoffMs: 10, ...opts.settings }, fetchPolicy: opts.fetchPolicy },
  );
  const workers = opts.workers ? await startDetectionWorkers(ctx) : undefined;
  return {
    ctx,
    clock,
    connection,
    prefix,
    workers,
    async drain(timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const counts = await Promise.all(
          [ctx.queues.poll, ctx.queues.version].map((q) =>
            q.getJobCounts('waiting', 'active', 'delayed', 'prioritized'),
          ),
        );
        if (counts.every((c) => Object.values(c).every((n) => n === 0))) return;
        if (Date.now() > deadline) throw new Error(`queues did not drain: ${JSON.stringify(counts)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      await workers?.close();
      if (opts.cleanup !== false) {
        for (const q of Object.values(ctx.queues)) await q.obliterate({ force: true });
      }
      await ctx.close();
      if (opts.cleanup !== false) await deleteKeysWithPrefix(connection, prefix);
      await connection.quit();
    },
  };
}

/** A local HTTP server on 127.0.0.1 with a replaceable handler. */
export interface LocalServer {
  port: number;
  url(path: string): string;
  handler: http.RequestListener;
  close(): Promise<void>;
}

export async function startLocalServer(handler: http.RequestListener = (_q, r) => r.end()): Promise<LocalServer> {
  const s: LocalServer = {
    port: 0,
    handler,
    url: (p) => `http://127.0.0.1:${s.port}${p}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => s.handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  s.port = (server.address() as AddressInfo).port;
  return s;
}
