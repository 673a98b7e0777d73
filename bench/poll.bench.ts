/**
 * Poll benchmark: 10,000 Connect apps served by a local HTTP server on 127.0.0.1, nine
 * in ten answering 304 to their conditional request, the tenth serving a changed descriptor
 * (classified against the latest version and stored as the next micro). A full cycle through the real queue
 * path: scheduler tick → poll queue (chunks of `pollBatchSize` apps) → poll workers (per-app slot
 * claim, undici, safety checks, poll record; the chunk's changes classified and stored as
 * versions in the chunk's job) → rollout plan jobs. Baseline, same run: a bare undici loop over
 * the same URLs with the same conditional headers at the same concurrency, run before and after
 * the cycle (the ratio uses their mean). Rounds of both run one poll interval apart on the bench's
 * clock, the changing apps serving a new revision each round: BENCH_WARMUP_ROUNDS (1) not
 * counted, then BENCH_ROUNDS (3) whose medians are reported. Prints
 * descriptors/s and the ratio, the stages' times, the mean fetches in flight, and the cycle's cost
 * (node CPU, Redis CPU and command counts from INFO, server-wide). BENCH_CPU_PROF=file writes a V8
 * CPU profile of the cycle alone. Knobs: BENCH_APPS (10,000), BENCH_CONCURRENCY (100),
 * BENCH_BATCH_SIZE (apps per poll job, the daemon's default), BENCH_CHANGE_EVERY (10; 0 = no changes),
 * BENCH_TIMELINE=1 (fetches in flight per 50 ms), BENCH_FAKE_FETCH=1 (fetches answered in-process:
 * the queue path's CPU alone), BENCH_BARE_DISPATCH=1 (a second bare loop on undici's dispatch API,
 * which the fetcher uses; the baseline the issue names is the `request()` loop). Target:
 * cycle ≤ 20 s, ratio ≥ 0.5. Needs Redis at REDIS_URL or 127.0.0.1:6379. Machines are shared:
 * compare CPU seconds as well as wall times, and several runs.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { ManualClock } from '../src/lib/clock.js';
import { silentLogger } from '../src/lib/logger.js';
import { parseAllowList } from '../src/poller/address-policy.js';
import type { FetchResult } from '../src/poller/descriptor-fetcher.js';
import type { FetchesDescriptors } from '../src/app/detection/poll-app.js';
import { parseDescriptor } from '../src/versioning/index.js';
import { DEFAULT_DETECTION_SETTINGS } from '../src/app/settings.js';
import { createAppContext } from '../src/runtime.js';
import { startDetectionWorkers } from '../src/workers/start-workers.js';
import { schedulerTick } from '../src/workers/scheduler.js';
import type { VersionRecord } from '../src/store/types.js';

const APPS = Number(process.env.BENCH_APPS ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
/** One app in BENCH_CHANGE_EVERY serves a changed descriptor (0: none, to price the changes). */
const CHANGE_EVERY = Number(process.env.BENCH_CHANGE_EVERY ?? 10);
/** Apps per poll job (the daemon's MPU_POLL_BATCH_SIZE; its default unless set). */
const BATCH_SIZE = Number(process.env.BENCH_BATCH_SIZE ?? DEFAULT_DETECTION_SETTINGS.pollBatchSize);
/**
 * Rounds (a cycle and its bare loops) run first and not counted: both sides are then measured
 * with their code compiled and their heaps grown, as in a daemon that has been running.
 */
const WARMUP_ROUNDS = Math.max(0, Number(process.env.BENCH_WARMUP_ROUNDS ?? 1));
/** Measured rounds; the medians are reported (a shared machine's noise). */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
/** BENCH_TIMELINE=1: prints each round's fetches in flight per 50 ms (where the cycle waits). */
const TIMELINE = process.env.BENCH_TIMELINE === '1';
/** BENCH_FAKE_FETCH=1: fetches answered in-process, no HTTP: node CPU is the queue path's alone. */
const FAKE_FETCH = process.env.BENCH_FAKE_FETCH === '1';
/** BENCH_BARE_DISPATCH=1: also a bare loop on undici's dispatch API (the fetcher's), for comparison. */
const BARE_DISPATCH = process.env.BENCH_BARE_DISPATCH === '1';

const descriptor = (i: number, rev: number) =>
  JSON.stringify({
    key: `bench-app-${i}`,
    name: `Bench app ${i}`,
    baseUrl: `https://bench-${i}.example.com`,
    authentication: { type: 'jwt' },
    scopes: ['READ'],
    modules: { generalPages: [{ key: 'page', name: { value: `rev ${rev}` }, url: '/page' }] },
  });
const changed = (i: number) => CHANGE_EVERY > 0 && i % CHANGE_EVERY === 0;

/**
 * The descriptor servers: in round `r` (`setRound`), a changing app serves revision r (ETag
 * `"r<r>"`), every other app revision 0 (`"r0"`); a matching If-None-Match gets a 304.
 */
async function startServer(): Promise<{
  port: number;
  setRound(r: number): void;
  answer(url: string, ifNoneMatch?: string): { etag: string; body?: string };
  close(): Promise<void>;
}> {
  let round = 0;
  let bodies: string[] = [];
  const setRound = (r: number) => {
    round = r;
    bodies = Array.from({ length: APPS }, (_, i) => descriptor(i, changed(i) ? r : 0));
  };
  setRound(0);
  /** What app `url`'s server answers a request holding `ifNoneMatch`: a body (200) or none (304). */
  const answer = (url: string, ifNoneMatch: string | undefined): { etag: string; body?: string } => {
    const i = Number(url.slice(url.lastIndexOf('/app-') + '/app-'.length));
    const etag = `"r${changed(i) ? round : 0}"`;
    return ifNoneMatch === etag ? { etag } : { etag, body: bodies[i] };
  };
  const server = http.createServer((req, res) => {
    const { etag, body } = answer(req.url ?? '', req.headers['if-none-match']);
    if (body === undefined) return void res.writeHead(304, { etag }).end();
    res.writeHead(200, { 'content-type': 'application/json', etag }).end(body);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    setRound,
    answer,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

/** One GET through undici's `dispatch` API (the fetcher's own way), its body as a string. */
function dispatchGet(agent: Agent, origin: string, path: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    agent.dispatch(
      { origin, path, method: 'GET', headers },
      {
        onRequestStart() {},
        onResponseStart() {},
        onResponseData: (_c, chunk) => void chunks.push(chunk),
        onResponseEnd: () => resolve(Buffer.concat(chunks).toString('utf8')),
        onResponseError: (_c, err) => reject(err),
      },
    );
  });
}

/**
 * GETs every app with `CONCURRENCY` requests in flight, with the validators the daemon holds in
 * round `round` (a changing app's of the round before), so that the same apps answer 304 and
 * 200 as in that round's cycle. `api`: undici's `request()` (the bare loop the issue names), or its
 * `dispatch()` (what the fetcher uses: BENCH_BARE_DISPATCH=1 prints that loop too).
 */
async function bareLoop(
  port: number,
  round: number,
  api: 'request' | 'dispatch' = 'request',
): Promise<{ ms: number; cpuS: number }> {
  const agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 10_000 });
  const origin = `http://127.0.0.1:${port}`;
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < APPS; i = next++) {
        const headers = { 'if-none-match': `"r${changed(i) ? round - 1 : 0}"` };
        if (api === 'dispatch') await dispatchGet(agent, origin, `/app-${i}`, headers);
        else await (await request(`${origin}/app-${i}`, { dispatcher: agent, headers })).body.text();
      }
    }),
  );
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await agent.close();
  return { ms, cpuS: (cpu.user + cpu.system) / 1e6 };
}

/**
 * With BENCH_CPU_PROF=file: a V8 CPU profile of the cycle alone (open in Chrome DevTools); with
 * BENCH_HEAP_PROF=1 too, a sampling heap profile (allocations) instead. BENCH_CPU_PROF_BARE=file
 * profiles the bare loop run after the cycle, to compare the two profiles. Both cover round
 * BENCH_PROF_ROUND (the first counted one unless set).
 */
async function startProfile(file: string | undefined): Promise<{ stop(): Promise<void> } | undefined> {
  if (!file) return undefined;
  const { Session } = await import('node:inspector/promises');
  const { writeFile } = await import('node:fs/promises');
  const session = new Session();
  session.connect();
  const heap = process.env.BENCH_HEAP_PROF === '1';
  if (heap)
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: process.env.BENCH_HEAP_MINOR !== '0',
    } as never);
  else {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  return {
    async stop() {
      const { profile } = heap ? await session.post('HeapProfiler.stopSampling') : await session.post('Profiler.stop');
      await writeFile(file, JSON.stringify(profile));
      session.disconnect();
      console.log(`${heap ? 'heap' : 'CPU'} profile: ${file}`);
    },
  };
}

/** Server-wide command counts and CPU seconds (INFO commandstats / cpu), to attribute the cycle's cost. */
async function redisStats(redis: Redis): Promise<{ calls: Map<string, number>; cpuS: number }> {
  const [stats, cpu] = await Promise.all([redis.info('commandstats'), redis.info('cpu')]);
  const calls = new Map<string, number>();
  for (const m of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1]!, Number(m[2]));
  const num = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0);
  return { calls, cpuS: num('used_cpu_user') + num('used_cpu_sys') };
}

export async function run(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const prefix = `bench-${process.pid}-${Date.now()}`;
  const server = await startServer();
  const clock = new ManualClock(Date.parse('2025-01-01T00:00:00Z'));
  // BENCH_FAKE_FETCH=1: the fetch is answered in-process (what the server would answer, one
  // macrotask later), so node CPU is the queue path's alone; the ratio then means nothing.
  const fakeFetcher: FetchesDescriptors | undefined = FAKE_FETCH
    ? {
        fetch: (href, cond) =>
          new Promise<FetchResult>((resolve) =>
            setImmediate(() => {
              const r = server.answer(href, cond?.etag);
              resolve(
                r.body === undefined
                  ? { status: 'not-modified', httpStatus: 304, finalUrl: href }
                  : { status: 'ok', httpStatus: 200, body: r.body, etag: r.etag, finalUrl: href },
              );
            }),
          ),
      }
    : undefined;
  const ctx = createAppContext(
    { connection, clock, logger: silentLogger, prefix },
    {
      ...(fakeFetcher ? { fetcher: fakeFetcher } : {}),
      settings: { pollConcurrency: CONCURRENCY, pollBatchSize: BATCH_SIZE, versionConcurrency: 16, pollAttempts: 1 },
      fetchPolicy: { allowList: parseAllowList(['127.0.0.1/32']).list, allowedPorts: [80, 443, 8080, server.port] },
    },
  );
  let workers: Awaited<ReturnType<typeof startDetectionWorkers>> | undefined;
  try {
    // Seed: every app registered, holding the ETag of rev 0 and a 1.0.0 of rev 0, due at the
    // first round.
    const seedStart = performance.now();
    const firstAt = clock.now();
    const rev0 = parseDescriptor(descriptor(0, 0), { source: 'seed', kind: 'connect' });
    for (let start = 0; start < APPS; start += 1_000) {
      const pipe = connection.pipeline();
      for (let i = start; i < Math.min(APPS, start + 1_000); i++) {
        const id = `bench-app-${i}`;
        const d = i === 0 ? rev0 : parseDescriptor(descriptor(i, 0), { source: 'seed', kind: 'connect' });
        pipe.hset(ctx.keys.app(id), {
          id,
          kind: 'connect',
          descriptorUrl: `http://127.0.0.1:${server.port}/app-${i}`,
          status: 'active',
          createdAt: clock.now(),
          consecutiveFailures: 0,
          totalFailures: 0,
          etag: '"r0"',
          lastSeenHash: d.hash,
          latestVersion: '1.0.0',
          latestHash: d.hash,
        });
        pipe.sadd(ctx.keys.apps(), id);
        pipe.zadd(ctx.keys.pollSchedule(), firstAt, id);
        const rec: VersionRecord = {
          appId: id,
          kind: 'connect',
          version: '1.0.0',
          bump: 'initial',
          approval: 'automatic',
          reasons: [],
          warnings: [],
          descriptorHash: d.hash,
          source: 'poll',
          detectedAt: clock.now(),
        };
        pipe.set(ctx.keys.descriptor(id, d.hash), d.canonical);
        pipe.hset(ctx.keys.versions(id), '1.0.0', JSON.stringify(rec));
        pipe.rpush(ctx.keys.versionOrder(id), '1.0.0');
      }
      await pipe.exec();
    }
    console.log(
      `seeded ${APPS} apps in ${((performance.now() - seedStart) / 1000).toFixed(1)} s; ` +
        `concurrency ${CONCURRENCY}, ${BATCH_SIZE} apps per poll job`,
    );

    // Mean fetches in flight over the cycle, sampled every 5 ms (no per-poll instrumentation):
    // below the concurrency, the cycle waits on something other than the descriptor servers.
    let samples = 0;
    let inFlightSum = 0;
    workers = await startDetectionWorkers(ctx);
    // The cycle ends when its last poll or versioning job completes (the workers' own events,
    // no Redis traffic); the queues' counts, read every 50 ms, only confirm that nothing is left.
    let lastDone = 0;
    for (const w of [workers.poll, workers.version]) {
      w.on('completed', () => (lastDone = performance.now()));
      w.on('failed', () => (lastDone = performance.now()));
    }
    const waitIdle = async (since: number): Promise<{ pollsDoneMs: number; doneMs: number }> => {
      let pollsDoneMs = 0;
      for (;;) {
        const counts = await Promise.all(
          [ctx.queues.poll, ctx.queues.version].map((q) =>
            q.getJobCounts('waiting', 'active', 'delayed', 'prioritized'),
          ),
        );
        const idle = counts.map((c) => Object.values(c).every((n) => n === 0));
        if (idle[0] && !pollsDoneMs) pollsDoneMs = lastDone - since;
        if (idle.every(Boolean)) return { pollsDoneMs, doneMs: lastDone - since };
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    interface Round {
      cycleMs: number;
      bareMs: number;
      ratio: number;
      cpuS: number;
      bareCpuS: number;
      redisCpuS: number;
      calls: [string, number][];
      inFlight: number;
      elu: number;
      enqueuedMs: number;
      pollsDoneMs: number;
    }
    const rounds: Round[] = [];
    /** The round the profiles cover (BENCH_PROF_ROUND, else the first counted one). */
    const profRound = Number(process.env.BENCH_PROF_ROUND ?? WARMUP_ROUNDS + 1);
    for (let round = 1; round <= WARMUP_ROUNDS + ROUNDS; round++) {
      const warmUp = round <= WARMUP_ROUNDS;
      server.setRound(round);
      ctx.metrics.polls.reset();
      const jobs0 = await ctx.queues.poll.getJobCountByTypes('completed');
      clock.set(firstAt + (round - 1) * ctx.settings.pollIntervalMs);

      // The baseline runs before and after the cycle and the ratio uses their mean, so that a
      // shared machine's load drifting during the round weighs on both sides alike.
      const bare0 = await bareLoop(server.port, round);
      const profiler = round === profRound ? await startProfile(process.env.BENCH_CPU_PROF) : undefined;
      const stats0 = await redisStats(connection);
      samples = 0;
      inFlightSum = 0;
      const cpu0 = process.cpuUsage();
      const elu0 = performance.eventLoopUtilization();
      const t0 = performance.now();
      const timeline: number[] = [];
      const sampler = setInterval(() => {
        samples++;
        const n = ctx.pollLimiter.inUse();
        inFlightSum += n;
        if (TIMELINE) timeline.push(performance.now() - t0, n);
      }, 5);
      const { due } = await schedulerTick(ctx);
      const enqueuedMs = performance.now() - t0;
      const { pollsDoneMs, doneMs: cycleMs } = await waitIdle(t0);
      const cpu = process.cpuUsage(cpu0);
      const elu = performance.eventLoopUtilization(elu0).utilization;
      clearInterval(sampler);
      await profiler?.stop();
      const stats1 = await redisStats(connection);
      const bareProfiler = round === profRound ? await startProfile(process.env.BENCH_CPU_PROF_BARE) : undefined;
      const bare1 = await bareLoop(server.port, round);
      await bareProfiler?.stop();
      const bareDispatch = BARE_DISPATCH ? await bareLoop(server.port, round, 'dispatch') : undefined;
      const bareMs = (bare0.ms + bare1.ms) / 2;

      // Per-app poll outcomes (polls run in chunks: one job per pollBatchSize apps), and the
      // versions the round had to create (1.0.<round> for each changing app).
      const outcomes = Object.fromEntries(
        (await ctx.metrics.polls.get()).values.map((v) => [String(v.labels.outcome), v.value]),
      );
      const polls = Object.values(outcomes).reduce((n, v) => n + v, 0);
      const jobs = (await ctx.queues.poll.getJobCountByTypes('completed')) - jobs0;
      const failedJobs = await ctx.queues.poll.getJobCountByTypes('failed');
      const version = `1.0.${round}`;
      let created = 0;
      if (CHANGE_EVERY > 0)
        for (let i = 0; i < APPS; i += CHANGE_EVERY)
          if ((await connection.hexists(ctx.keys.versions(`bench-app-${i}`), version)) === 1) created++;
      const expected = CHANGE_EVERY > 0 ? Math.ceil(APPS / CHANGE_EVERY) : 0;
      const calls = [...stats1.calls]
        .map(([cmd, n]) => [cmd, n - (stats0.calls.get(cmd) ?? 0)] as [string, number])
        .filter(([, n]) => n > 0)
        .sort((x, y) => y[1] - x[1]);
      const r: Round = {
        cycleMs,
        bareMs,
        ratio: bareMs / cycleMs,
        cpuS: (cpu.user + cpu.system) / 1e6,
        bareCpuS: (bare0.cpuS + bare1.cpuS) / 2,
        redisCpuS: stats1.cpuS - stats0.cpuS,
        calls,
        inFlight: inFlightSum / Math.max(1, samples),
        elu,
        enqueuedMs,
        pollsDoneMs,
      };
      if (!warmUp) rounds.push(r);
      console.log(
        `round ${round}${warmUp ? ' (warm-up, not counted)' : ''}: ${due} due, ${polls} polls (${JSON.stringify(outcomes)}), ${outcomes.failed ?? 0} failed, ${created} versions ${version} (expected ${expected}), ` +
          `${jobs} poll jobs completed, ${failedJobs} failed`,
      );
      console.log(
        `  cycle ${(cycleMs / 1000).toFixed(2)} s (enqueued at ${(enqueuedMs / 1000).toFixed(2)} s, polls done at ${(pollsDoneMs / 1000).toFixed(2)} s), ` +
          `bare loop ${(bareMs / 1000).toFixed(2)} s (${(bare0.ms / 1000).toFixed(2)} s before, ${(bare1.ms / 1000).toFixed(2)} s after): ratio ${r.ratio.toFixed(2)}; ` +
          `node CPU ${r.cpuS.toFixed(2)} s vs ${r.bareCpuS.toFixed(2)} s, fetches in flight ${r.inFlight.toFixed(1)}, event loop busy ${(elu * 100).toFixed(0)} %`,
      );
      if (bareDispatch) {
        console.log(
          `  bare dispatch() loop ${(bareDispatch.ms / 1000).toFixed(2)} s, node CPU ${bareDispatch.cpuS.toFixed(2)} s: ratio to it ${(bareDispatch.ms / cycleMs).toFixed(2)}`,
        );
      }
      if (TIMELINE) {
        // Mean of the samples taken in each 50 ms (a busy event loop samples less often than every 5 ms).
        const sums: [number, number][] = [];
        for (let i = 0; i < timeline.length; i += 2) {
          const bucket = (sums[Math.floor(timeline[i]! / 50)] ??= [0, 0]);
          bucket[0] += timeline[i + 1]!;
          bucket[1]++;
        }
        console.log(
          `  fetches in flight per 50 ms: ${Array.from(sums, (s) => (s ? Math.round(s[0] / s[1]) : '-')).join(' ')}`,
        );
      }
      if (polls !== APPS || created !== expected || failedJobs > 0)
        throw new Error(`round ${round} did not do the expected work (see above)`);
    }

    const median = (xs: number[]) => {
      const s = [...xs].sort((x, y) => x - y);
      return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
    };
    const cycleMs = median(rounds.map((r) => r.cycleMs));
    const bareMs = median(rounds.map((r) => r.bareMs));
    const ratio = median(rounds.map((r) => r.ratio));
    const mid = [...rounds].sort((x, y) => x.ratio - y.ratio)[(rounds.length - 1) >> 1]!;
    const totalCalls = mid.calls.reduce((n, [, c]) => n + c, 0);
    console.log(`medians of ${rounds.length} rounds:`);
    console.log(
      `full cycle (queue path):  ${(cycleMs / 1000).toFixed(2)} s  ${((APPS / cycleMs) * 1000).toFixed(0)} descriptors/s   (target ≤ 20 s)`,
    );
    console.log(
      `bare undici loop:         ${(bareMs / 1000).toFixed(2)} s  ${((APPS / bareMs) * 1000).toFixed(0)} descriptors/s`,
    );
    console.log(
      `cycle cost (median round): node CPU ${mid.cpuS.toFixed(1)} s (bare loop ${mid.bareCpuS.toFixed(1)} s, the local server's share included in both), ` +
        `Redis CPU ${mid.redisCpuS.toFixed(1)} s, ${totalCalls} Redis commands (${(totalCalls / APPS).toFixed(1)}/app; server-wide, so others' traffic counts too)`,
    );
    console.log(
      `  top: ${mid.calls
        .slice(0, 8)
        .map(([c, n]) => `${c} ${n}`)
        .join(', ')}`,
    );
    console.log(
      `ratio (queue path / bare): ${ratio.toFixed(2)}   (target ≥ 0.5; rounds: ${rounds.map((r) => r.ratio.toFixed(2)).join(', ')})` +
        (FAKE_FETCH
          ? '   [BENCH_FAKE_FETCH: the cycle made no HTTP requests, so this is not the ratio the target means]'
          : ''),
    );
  } finally {
    // Closed here too when a round fails: an open worker would keep the process alive.
    await workers?.close();
    for (const q of Object.values(ctx.queues)) await q.obliterate({ force: true }).catch(() => {});
    await ctx.close();
    let cursor = '0';
    do {
      const [nextCursor, keys] = await connection.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
      cursor = nextCursor;
      if (keys.length) await connection.unlink(...keys);
    } while (cursor !== '0');
    await connection.quit();
    await server.close();
  }
}
