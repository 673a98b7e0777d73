/**
 * Real Redis for tests (never a mock): REDIS_URL, else 127.0.0.1:6379. Each test gets its own
 * key prefix / queue names (`test-<uuid>`) and cleans up after itself.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Connects and pings; throws a message that says how to start a server when none answers.
 * `maxRetriesPerRequest: null` is what BullMQ workers require.
 */
export async function connectTestRedis(): Promise<Redis> {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: true, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new Error(
      `no Redis answers at ${TEST_REDIS_URL}: start one with ` +
        `'redis-server --daemonize yes --port 6379' (or 'docker compose up -d redis'), or set REDIS_URL. (${String(err)})`,
    );
  }
  return redis;
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
