/**
 * Real Redis for tests (never a mock): REDIS_CLUSTER_NODES (a Redis Cluster, see
 * test/cluster/start-cluster.sh) when set, else REDIS_URL, else 127.0.0.1:6379. Each test gets
 * its own key prefix / queue names (`test-<uuid>`) and cleans up after itself. Tests open raw
 * connections through `connectTestRedis` only, and pass `TEST_REDIS_ENV` to the processes they
 * spawn, so that the cluster pass of `.ci/run` runs every suite on the cluster.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { parseClusterNodes } from '../../src/config/config.js';
import { openRedis, scanKeys, unlinkKeys, type RedisConnection } from '../../src/lib/redis-connection.js';

export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** `host:port,…` of the cluster the tests run on, or undefined (one server). */
export const TEST_REDIS_CLUSTER_NODES = process.env.REDIS_CLUSTER_NODES || undefined;
/** Whether the tests run on a Redis Cluster. */
export const ON_CLUSTER = TEST_REDIS_CLUSTER_NODES !== undefined;
/** The environment that points a spawned `mpu` at the tests' Redis (REDIS_URL, and REDIS_CLUSTER_NODES on a cluster). */
export const TEST_REDIS_ENV: Record<string, string> = {
  REDIS_URL: TEST_REDIS_URL,
  ...(TEST_REDIS_CLUSTER_NODES ? { REDIS_CLUSTER_NODES: TEST_REDIS_CLUSTER_NODES } : {}),
};

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

async function connectCluster(text: string): Promise<RedisConnection> {
  const nodes = parseClusterNodes(text);
  if (typeof nodes === 'string') throw new Error(`REDIS_CLUSTER_NODES: ${nodes}`);
  const cluster = openRedis({ clusterNodes: nodes }, { failFast: true });
  cluster.on('error', () => {});
  try {
    await cluster.connect();
    await cluster.ping();
    return cluster;
  } catch (err) {
    cluster.disconnect();
    throw new Error(
      `no Redis Cluster answers at ${text}: start one with test/cluster/start-cluster.sh, or unset REDIS_CLUSTER_NODES (${String(err)})`,
    );
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
 * Connects and pings: the cluster of `REDIS_CLUSTER_NODES` when set; else `REDIS_URL`; else
 * 127.0.0.1:6379; else a Testcontainers Redis where a Docker engine answers; else throws a
 * message that says how to start a server. `maxRetriesPerRequest: null` is what BullMQ workers
 * require.
 *
 * Typed as one server's connection so tests read simply; on the cluster pass it is an ioredis
 * `Cluster`, which takes the same commands (tests that need what only one server has, such as
 * INFO or MONITOR of the whole keyspace, skip with `ON_CLUSTER`).
 */
export async function connectTestRedis(): Promise<Redis> {
  if (TEST_REDIS_CLUSTER_NODES) return (await connectCluster(TEST_REDIS_CLUSTER_NODES)) as Redis;
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

/**
 * Deletes every key that contains `prefix` (the store's keys and the queues', hash-tagged or
 * not): SCAN on every master, never KEYS.
 */
export async function deleteKeysWithPrefix(redis: RedisConnection, prefix: string): Promise<void> {
  for await (const keys of scanKeys(redis, `*${prefix}*`, 1000)) await unlinkKeys(redis, keys);
}

/** Every key matching the glob `pattern`, sorted, without repeats (SCAN on every master). */
export async function keysMatching(redis: RedisConnection, pattern: string): Promise<string[]> {
  const out = new Set<string>();
  for await (const keys of scanKeys(redis, pattern, 1000)) for (const k of keys) out.add(k);
  return [...out].sort();
}

/**
 * Every entry of one of the two bucketed indexes (keys.ts `installationIndexBucket`,
 * `siteIndexBucket`) under `prefix`, as `<bucket>/<field>` → value (fields are digests: compare
 * values, or look ids up through the store). SCAN on every master, then HGETALL per bucket.
 */
export async function indexEntries(
  c: RedisConnection,
  prefix: string,
  which: 'installations' | 'sites-index',
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const head = `${prefix}:${which}:`;
  for await (const keys of scanKeys(c, `${head.replace(/[*?[\]\\]/g, '\\$&')}*`, 1000))
    for (const key of keys) {
      // `<head>{ix:<group>}:<bucket>`: the bucket number after the group's hash tag.
      const bucket = /^\{ix:\d+\}:(\d+)$/.exec(key.slice(head.length))?.[1];
      if (bucket === undefined) continue;
      for (const [f, v] of Object.entries(await c.hgetall(key))) out[`${bucket}/${f}`] = v;
    }
  return out;
}
