/**
 * Real Redis for tests (never a mock): REDIS_URL, else 127.0.0.1:6379. Each test gets its own
 * key prefix / queue names (`test-<uuid>`) and cleans up after itself.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function tryConnect(url: string): Promise<Redis> {
  const redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true, retryStrategy: () => null });
  redis.on('error', () => {}); // reported by connect/ping below
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch (err) {
    redis.disconnect();
    throw err;
  }
}

let containerUrl: Promise<string | null> | undefined;

/**
 * Starts one Redis container per test process with `@testcontainers/redis`, only where a Docker
 * engine answers (Testcontainers' runtime check fails fast otherwise); reaped by Ryuk at exit.
 * @returns its URL, or null when no container runtime is available.
 */
async function startContainerRedis(): Promise<string | null> {
  containerUrl ??= (async () => {
    try {
      const { getContainerRuntimeClient } = await import('testcontainers');
      await getContainerRuntimeClient();
    } catch {
      return null;
    }
    const { RedisContainer } = await import('@testcontainers/redis');
    const started = await new RedisContainer('redis:7-alpine').start();
    return started.getConnectionUrl();
  })();
  return containerUrl;
}

/**
 * Connects and pings: `REDIS_URL` when set; else 127.0.0.1:6379; else a Testcontainers Redis
 * where a Docker engine answers; else throws a message that says how to start a server.
 * `maxRetriesPerRequest: null` is what BullMQ workers require.
 */
export async function connectTestRedis(): Promise<Redis> {
  try {
    return await tryConnect(TEST_REDIS_URL);
  } catch (err) {
    if (!process.env.REDIS_URL) {
      const url = await startContainerRedis().catch(() => null);
      if (url) return tryConnect(url);
    }
    throw new Error(
      `no Redis answers at ${TEST_REDIS_URL} and no Docker engine for Testcontainers: start one with ` +
        `'redis-server --daemonize yes --port 6379' (or 'docker compose up -d redis'), or set REDIS_URL. (${String(err)})`,
    );
  }
}

/** A fresh prefix for one test's keys and queue names (no ':' so it is also a valid queue name). */
export function testPrefix(): string {
  return `test-${randomUUID()}`;
}

/** Deletes every key that starts with `prefix` (SCAN, never KEYS). */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}
