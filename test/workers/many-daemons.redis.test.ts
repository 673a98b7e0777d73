/**
 * Three `mpu daemon` processes (OS processes, each with scheduler, workers and HTTP API) on one
 * Redis, or on the cluster of the cluster pass (test/helpers/redis.ts): 60 Connect apps change
 * once, 600 installations are upgraded, while one daemon is SIGKILLed and restarted midway.
 * What an operator of many daemons relies on:
 * - every app is polled once per poll slot (its 5 h interval), counted at the descriptor server;
 *   an app whose poll was in flight in the killed daemon may be fetched a second time when its
 *   chunk is redelivered, and only then (the daemons' ticks, each second, often read a new app's
 *   schedule entry together, on either side of its slot boundary: they name the poll by the entry,
 *   so it is one poll, schedule-polls.ts);
 * - every app gets each version once (1.0.0 at registration, 1.0.1 after its change), and every
 *   installation is upgraded exactly once;
 * - the work spreads over the daemons: while the three run (before the kill, and after the
 *   restart), each versions at least a 10-app chunk's worth (≥ 15 % when that is less) and
 *   upgrades ≥ 15 % of the installations
 *   (counted from their logs: `version:created`, `rollout:batch:applied`); the split is printed.
 * The daemons run on one scaled clock (MPU_TIME_SCALE 3600, a simulated hour per second, from a
 * shared MPU_TIME_EPOCH), with a 3 s job lock so the killed daemon's jobs are taken over at once.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerConnectApp } from '../../src/app/detection/register-app.js';
import { generatePopulation } from '../../src/app/rollout/installations.js';
import { HOUR } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { configClock } from '../../src/main.js';
import { createAppContext, type Runtime } from '../../src/runtime.js';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { localFetchPolicy, startLocalServer, type LocalServer } from '../helpers/detection-harness.js';
import { TEST_REDIS_ENV, connectTestRedis, deleteKeysWithPrefix, testPrefix } from '../helpers/redis.js';
import type { Redis } from 'ioredis';

const root = path.resolve(import.meta.dirname, '../..');
const SCALE = 3600;
const INTERVAL = 5 * HOUR;
const APPS = Array.from({ length: 60 }, (_, i) => `many-${i}`);
const PER_APP = 10;
const LOCK_MS = 3000;

const descriptor = (key: string, rev: number) =>
  JSON.stringify({
    key,
    baseUrl: 'https://example.com',
    authentication: { type: 'jwt' },
    scopes: ['READ'],
    modules: { generalPages: [{ key: `p${rev}`, name: { value: `rev ${rev}` }, url: '/p' }] },
  });

/** What one daemon (a process, then its restart) did, from its logs, between real times `from` and `to`. */
function workOf(logs: string, from = 0, to = Infinity): { versions: number; upgraded: number } {
  let versions = 0;
  let upgraded = 0;
  for (const line of logs.split('\n')) {
    if (!line.includes('"msg":"version:created"') && !line.includes('"event":"rollout:batch:applied"')) continue;
    const entry = JSON.parse(line) as { time: number; moved?: number };
    if (entry.time < from || entry.time >= to) continue;
    if (entry.moved === undefined) versions++;
    else upgraded += entry.moved;
  }
  return { versions, upgraded };
}

/** `work`'s shares, printed: `#0 40 % / 33 %, …`. */
const shares = (work: { versions: number; upgraded: number }[]) => {
  const v = work.reduce((n, w) => n + w.versions, 0);
  const u = work.reduce((n, w) => n + w.upgraded, 0);
  return work
    .map(
      (w, i) =>
        `#${i} ${w.versions} / ${w.upgraded} (${Math.round((100 * w.versions) / (v || 1))} % / ${Math.round((100 * w.upgraded) / (u || 1))} %)`,
    )
    .join(', ');
};

describe('three daemon processes, one SIGKILLed and restarted', () => {
  let redis: Redis;
  let server: LocalServer;
  let ctx: Runtime;
  const prefix = testPrefix();
  const epoch = Date.now();
  const clock = configClock({ timeScale: SCALE, timeEpoch: epoch });
  /** Simulated ms at which the descriptors change (set once the apps are registered). */
  let changeAt = Infinity;
  /** Every descriptor request: app and simulated time. */
  const requests: { app: string; at: number }[] = [];
  const daemons: DaemonProcess[] = [];
  const logs: string[] = ['', '', ''];

  beforeAll(async () => {
    redis = await connectTestRedis();
    server = await startLocalServer((req, res) => {
      const app = (req.url ?? '/').slice(1);
      const at = clock.now();
      requests.push({ app, at });
      res.writeHead(200, { 'content-type': 'application/json' }).end(descriptor(app, at >= changeAt ? 1 : 0));
    });
    ctx = createAppContext(
      { connection: redis, clock, logger: silentLogger, prefix },
      { settings: { timeScale: SCALE }, fetchPolicy: localFetchPolicy(server.port) },
    );
  });
  afterAll(async () => {
    for (const d of daemons) if (d.child.exitCode === null) d.child.kill('SIGKILL');
    await ctx?.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis?.quit();
    await server?.close();
  });

  const start = (i: number) =>
    startDaemonProcess(
      ['--import', 'tsx', path.join(root, 'src/cli/main.ts')],
      {
        ...TEST_REDIS_ENV,
        MPU_PREFIX: prefix,
        PORT: '0',
        HOST: '127.0.0.1',
        MPU_WEBHOOK_SECRET: 'many-daemons-secret-0123',
        MPU_OPERATOR_TOKENS: `ci:many-daemons-operator-token-${i}-0123456789`,
        MPU_FETCH_ALLOW_NETWORKS: '127.0.0.1/32',
        MPU_FETCH_EXTRA_PORTS: String(server.port),
        MPU_SCHEDULER_CRON: '* * * * * *',
        MPU_TIME_SCALE: String(SCALE),
        MPU_TIME_EPOCH: String(epoch),
        MPU_JOB_LOCK: `${LOCK_MS}ms`,
        MPU_STALLED_INTERVAL: '1s',
        LOG_LEVEL: 'info',
      },
      root,
    );

  it('polls each app once per slot, versions and upgrades each once, and spreads the work', async () => {
    for (let i = 0; i < APPS.length; i++)
      await generatePopulation(ctx, {
        appId: APPS[i]!,
        count: PER_APP,
        seed: i,
        version: '1.0.0',
        maintenanceWindows: false,
      });
    daemons.push(...(await Promise.all([0, 1, 2].map(start))));
    // Registered once every daemon listens: the registration polls are the first tick's chunks.
    const registeredAt = clock.now();
    for (const id of APPS) await registerConnectApp(ctx, id, server.url(`/${id}`));
    // The descriptors change once every app has its first version (its registration poll's).
    for (;;) {
      let versioned = 0;
      for (const id of APPS) if ((await ctx.versions.listVersions(id)).length > 0) versioned++;
      if (versioned === APPS.length) break;
      if (clock.now() > registeredAt + 10 * HOUR) throw new Error(`${versioned} of ${APPS.length} apps versioned`);
      await new Promise((r) => setTimeout(r, 100));
    }
    changeAt = clock.now();

    const waitUntil = async (what: string, at: number) => {
      while (clock.now() < at) await new Promise((r) => setTimeout(r, 50));
      return what;
    };
    // Midway through the rollouts (and polls): daemon 1 dies, and is started again at once. Not
    // before a tenth of the installations are upgraded (a loaded machine slows the simulated
    // rollout), so that the shares before the kill are shares of something.
    await waitUntil('kill', changeAt + 6 * HOUR);
    const upgradedSoFar = async () => {
      let on = 0;
      for (const id of APPS) on += Number((await redis.hget(ctx.keys.versionDistribution(id), '1.0.1')) ?? 0);
      return on;
    };
    while ((await upgradedSoFar()) < (APPS.length * PER_APP) / 10 && clock.now() < changeAt + 20 * HOUR)
      await new Promise((r) => setTimeout(r, 50));
    const killedAt = clock.now();
    const killedReal = Date.now();
    daemons[1]!.child.kill('SIGKILL');
    await daemons[1]!.exited;
    logs[1] += daemons[1]!.logs();
    daemons[1] = await start(1);
    const back = clock.now();
    const backReal = Date.now();

    // Every installation on 1.0.1 (a Connect rollout takes at most 5 h + 24 h + 4 h of the change).
    const total = APPS.length * PER_APP;
    for (;;) {
      let on = 0;
      for (const id of APPS) on += Number((await redis.hget(ctx.keys.versionDistribution(id), '1.0.1')) ?? 0);
      if (on === total) break;
      if (clock.now() > changeAt + 60 * HOUR) {
        const problems = daemons
          .flatMap((d) => d.logs().split('\n'))
          .filter((l) => /"level":(40|50|60)/.test(l))
          .slice(-20);
        const behind: string[] = [];
        for (const id of APPS) {
          const d = await ctx.installs.distribution(id);
          if ((d['1.0.1'] ?? 0) === PER_APP) continue;
          const versions = (await ctx.versions.listVersions(id)).map((v) => v.version);
          const rollout = await ctx.rollouts.get(id, '1.0.1');
          const polls = requests.filter((r) => r.app === id).map((r) => ((r.at - registeredAt) / HOUR).toFixed(1));
          const next = await ctx.schedule.nextDue(id);
          behind.push(
            `${id}: ${JSON.stringify(d)} versions ${versions.join(',')} rollout ${rollout?.status ?? 'none'} polls at h ${polls.join(' ')} next due h ${next === null ? null : ((next - registeredAt) / HOUR).toFixed(1)} now h ${((clock.now() - registeredAt) / HOUR).toFixed(1)}`,
          );
        }
        throw new Error(
          `${on} of ${total} upgraded by 60 h after the change; behind:\n${behind.join('\n')}\nwarnings:\n${problems.join('\n')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const end = clock.now();
    for (const [i, d] of daemons.entries()) {
      d.child.kill('SIGTERM');
      await d.exited;
      logs[i] += d.logs();
    }

    const work = logs.map((l) => workOf(l));
    const versions = work.reduce((n, w) => n + w.versions, 0);
    const upgraded = work.reduce((n, w) => n + w.upgraded, 0);
    // The split while all three ran: before the kill, and once the killed one was back.
    const before = logs.map((l) => workOf(l, 0, killedReal));
    const after = logs.map((l) => workOf(l, backReal));
    console.log(
      `many daemons: ${APPS.length} apps, ${versions} versions, ${upgraded} installations upgraded; ` +
        `per daemon (versions / upgrades), #1 killed: in all ${shares(work)}; ` +
        `before the kill ${shares(before)}; after the restart ${shares(after)}`,
    );
    // Versions and upgrades: once each.
    for (const id of APPS)
      expect(
        (await ctx.versions.listVersions(id)).map((v) => v.version),
        id,
      ).toEqual(['1.0.0', '1.0.1']);
    let installations = 0;
    for (const id of APPS)
      for await (const [inst, history] of ctx.installs.scanHistory(id)) {
        expect(
          history.filter((e) => e.kind === 'upgraded'),
          inst,
        ).toHaveLength(1);
        installations++;
      }
    expect(installations).toBe(total);

    // Polls, as the descriptor server saw them: once per interval. Consecutive polls of an app are
    // half an interval to an interval apart (its slot's start, or half an interval after a
    // registration poll: poll-schedule.ts), give or take the queue's latency on a loaded machine
    // (LATENCY; the fetch time is not the tick's). Across the kill an app may be fetched twice
    // (its poll was in flight in the killed daemon: the chunk is redelivered once its lock expires)
    // or late by the takeover.
    const LATENCY = 1.5 * HOUR;
    const takeover = back + LOCK_MS * SCALE + LATENCY;
    const h = (t: number) => ((t - changeAt) / HOUR).toFixed(1);
    const wrong: string[] = [];
    let polls = 0;
    let refetched = 0;
    for (const id of APPS) {
      const at = requests.filter((r) => r.app === id).map((r) => r.at);
      polls += at.length;
      for (let k = 1; k < at.length; k++) {
        const gap = at[k]! - at[k - 1]!;
        const acrossKill = at[k]! >= killedAt - LATENCY && at[k - 1]! <= takeover;
        if (gap >= INTERVAL / 2 - LATENCY && gap <= INTERVAL + LATENCY) continue;
        if (acrossKill && gap <= INTERVAL + (takeover - killedAt)) {
          if (gap < INTERVAL / 2 - LATENCY) refetched++;
          continue;
        }
        wrong.push(`${id}: polls at h ${h(at[k - 1]!)} and ${h(at[k]!)}`);
      }
    }
    expect(wrong, `kill at h ${h(killedAt)}, back at h ${h(back)}, end at h ${h(end)}`).toEqual([]);
    // Every interval polled: about (end − registration) / interval polls per app.
    expect(polls).toBeGreaterThanOrEqual(Math.floor((end - registeredAt) / INTERVAL) * APPS.length);
    console.log(`many daemons: ${polls} polls, ${refetched} fetched again after the kill`);

    // A daemon killed between a write and its log line leaves that work unlogged: a few at most.
    expect(versions).toBeLessThanOrEqual(APPS.length * 2);
    expect(versions).toBeGreaterThanOrEqual(APPS.length * 2 * 0.95);
    expect(upgraded).toBeLessThanOrEqual(total);
    expect(upgraded).toBeGreaterThanOrEqual(total * 0.95);
    // Each daemon's share of what was done while the three ran (the killed one is down a few
    // seconds, the time its process takes to start again).
    const total_ = (ws: typeof work, k: 'versions' | 'upgraded') => ws.reduce((n, w) => n + w[k], 0);
    // Versions come in chunks of 10 apps (about a dozen versioning jobs before the kill), so a
    // daemon's share of them moves in steps of ~8 %: each must have versioned at least a chunk's
    // worth. Upgrades come in many small batches and are held to 15 % each.
    for (const w of before) {
      expect(w.versions).toBeGreaterThanOrEqual(Math.min(10, 0.15 * total_(before, 'versions')));
      expect(w.upgraded).toBeGreaterThanOrEqual(0.15 * total_(before, 'upgraded'));
    }
    // After the restart, when enough was left to share (a share of a handful says nothing).
    if (total_(after, 'upgraded') >= 60)
      for (const w of after) expect(w.upgraded).toBeGreaterThanOrEqual(0.15 * total_(after, 'upgraded'));
  }, 150_000);
});
