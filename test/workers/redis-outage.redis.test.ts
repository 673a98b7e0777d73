/**
 * A Redis outage under a running daemon:
 * the daemon keeps running, /healthz answers 503 at once instead of hanging, and once Redis is
 * back the daemon answers 200 again. Uses its own redis-server on a free port, so the shared one
 * is left alone. The logs an operator reads: the outage once per distinct error (not once per
 * reconnect attempt of every connection, which was about 25 lines a second), then one line when
 * it is over.
 */
import { Writable } from 'node:stream';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { ON_CLUSTER } from '../helpers/redis.js';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { loadConfig } from '../../src/config/config.js';
import { ManualClock } from '../../src/lib/clock.js';
import { createLogger } from '../../src/lib/logger.js';
import { startDaemon } from '../../src/main.js';

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function startRedis(port: number): ChildProcess {
  return spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function health(url: string): Promise<{ status: number; ms: number }> {
  const t0 = Date.now();
  const res = await request(`${url}/healthz`, { headersTimeout: 5_000, bodyTimeout: 5_000 });
  await res.body.dump();
  return { status: res.statusCode, ms: Date.now() - t0 };
}

// It starts and stops a Redis server of its own (one server, whatever the pass): on the cluster
// pass of .ci/run it would only run again what the first pass ran.
describe.skipIf(!hasRedisServer || ON_CLUSTER)('Redis outage', () => {
  it('keeps the daemon alive, reports 503 at once, and recovers when Redis returns', async () => {
    const port = await freePort();
    let redis = startRedis(port);
    const url = `redis://127.0.0.1:${port}`;
    const config = loadConfig({
      REDIS_URL: url,
      MPU_PREFIX: 'outage',
      PORT: '0',
      MPU_WEBHOOK_SECRET: 'outage-secret-0123456789',
      MPU_OPERATOR_TOKENS: 'outage-test:outage-operator-token-0123456789',
      LOG_LEVEL: 'silent',
    });
    const lines: { level: number; msg: string; event?: string; err?: { message: string } }[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as (typeof lines)[0]);
        done();
      },
    });
    const logger = createLogger({ level: 'info', destination });
    const daemon = await until('the daemon to start', () =>
      startDaemon(config, { scheduler: true, http: true, workers: true }, { clock: new ManualClock(), logger }),
    );
    try {
      expect((await health(daemon.url!)).status).toBe(200);
      redis.kill('SIGKILL');
      const down = await until('503', async () => {
        const h = await health(daemon.url!);
        return h.status === 503 ? h : undefined;
      });
      expect(down.ms).toBeLessThan(2_000);
      const outageStart = lines.length;
      await new Promise((r) => setTimeout(r, 3_000)); // a few seconds of reconnect attempts
      const during = lines.slice(outageStart);
      const errors = lines.filter((l) => l.level >= 50);
      expect(errors.map((l) => l.event)).toEqual(errors.map(() => 'redis:down'));
      // Once per distinct error message, never once per attempt or per connection.
      expect(new Set(errors.map((l) => l.err?.message)).size).toBe(errors.length);
      expect(during.length).toBeLessThanOrEqual(2);
      redis = startRedis(port);
      await until('200 after Redis returns', async () =>
        (await health(daemon.url!)).status === 200 ? true : undefined,
      );
      const recovered = await until('the recovery line', async () => lines.find((l) => l.event === 'redis:recovered'));
      expect(recovered).toMatchObject({ level: 30, msg: expect.stringMatching(/redis available again after \d+/) });
    } finally {
      await daemon.close();
      redis.kill('SIGKILL');
    }
  }, 60_000);
});
