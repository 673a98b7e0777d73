/**
 * One Redis server or a Redis Cluster behind the same interface: the connection type every store
 * and adapter takes (`RedisConnection`, an ioredis `Redis` or `Cluster`), how one is opened from
 * the configuration (`openRedis`: `REDIS_URL`, or `REDIS_CLUSTER_NODES` for a cluster), and the
 * few operations whose shape differs between the two:
 * - a duplicate with other options (`duplicateConnection`; `Cluster.duplicate` takes the startup
 *   nodes first);
 * - SCAN, which on a cluster must run on every master (`scanKeys`), each holding part of the keys;
 * - a pipeline whose commands touch keys of several hash slots (`crossSlotPipeline`): ioredis
 *   sends a cluster pipeline to one node and refuses keys served by several, so on a cluster the
 *   commands are sent one by one (concurrently; with auto-pipelining each node's share goes out in
 *   one write).
 * Source: ioredis README, "Cluster" ("Transaction and pipeline in Cluster mode"); Redis Cluster
 * specification, "Keys hash tags".
 */
import { Cluster, Redis, type ChainableCommander, type ClusterOptions, type RedisOptions } from 'ioredis';

/** A connection to one Redis server or to a Redis Cluster. */
export type RedisConnection = Redis | Cluster;

/** Where Redis is: one server by URL, or a cluster by some of its nodes (the others are discovered). */
export type RedisTarget = { url: string } | { clusterNodes: readonly { host: string; port: number }[] };

/** Whether `c` is a cluster connection. */
export function isCluster(c: RedisConnection): c is Cluster {
  return (c as { isCluster?: boolean }).isCluster === true;
}

/** `host:port, …` of a target, for messages. */
export function describeTarget(target: RedisTarget): string {
  return 'url' in target ? target.url : `cluster ${target.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
}

/**
 * Creates (does not connect: `lazyConnect`) a connection to `target` with `maxRetriesPerRequest:
 * null` on every node (BullMQ requires it). `failFast`: no reconnection attempts (CLI commands,
 * tests), so an absent server fails the first command at once.
 */
export function openRedis(target: RedisTarget, opts: { failFast?: boolean } = {}): RedisConnection {
  const node: RedisOptions = { maxRetriesPerRequest: null, lazyConnect: true };
  if ('url' in target)
    return new Redis(target.url, { ...node, ...(opts.failFast ? { retryStrategy: () => null } : {}) });
  const options: ClusterOptions = {
    redisOptions: node,
    lazyConnect: true,
    ...(opts.failFast ? { clusterRetryStrategy: () => null } : {}),
  };
  return new Cluster(
    target.clusterNodes.map((n) => ({ host: n.host, port: n.port })),
    options,
  );
}

/**
 * A new connection to the same server or cluster, with `overrides` (`enableAutoPipelining`, and
 * the commands left out of it).
 */
export function duplicateConnection(
  c: RedisConnection,
  overrides: { enableAutoPipelining?: boolean; autoPipeliningIgnoredCommands?: string[] } = {},
): RedisConnection {
  return isCluster(c) ? c.duplicate(undefined, overrides) : c.duplicate(overrides);
}

/** The servers that hold keys: the connection itself, or every master of a cluster. */
export function masterNodes(c: RedisConnection): Redis[] {
  return isCluster(c) ? c.nodes('master') : [c];
}

/**
 * Every key matching the glob `pattern` (SCAN … MATCH … COUNT `count` on each master, a page at
 * a time; keys may repeat, as SCAN's do). Never KEYS: no command runs long.
 */
export async function* scanKeys(c: RedisConnection, pattern: string, count = 1000): AsyncGenerator<string[]> {
  for (const node of masterNodes(c)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      if (keys.length > 0) yield keys;
    } while (cursor !== '0');
  }
}

/**
 * UNLINKs `keys` (of any slots): one command on one server; on a cluster one per key, sent
 * together (a multi-key UNLINK must stay in one slot). @returns how many existed.
 */
export async function unlinkKeys(c: RedisConnection, keys: readonly string[]): Promise<number> {
  if (keys.length === 0) return 0;
  if (!isCluster(c)) return c.unlink(...keys);
  const counts = await Promise.all(keys.map((k) => c.unlink(k)));
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * A pipeline for commands whose keys lie in different hash slots (e.g. an app's record and a
 * global index). One server: an ordinary pipeline (one round trip, commands run in order). A
 * cluster: the commands are recorded and `exec()` sends each on its own, all at once, and returns
 * the replies in the same `[error, result][]` shape; they may then run in any order, so callers
 * must not depend on the order of commands of different slots. Not a transaction either way.
 */
export function crossSlotPipeline(c: RedisConnection): ChainableCommander {
  if (!isCluster(c)) return c.pipeline();
  const queued: { name: string; args: unknown[] }[] = [];
  const recorder: ChainableCommander = new Proxy({} as ChainableCommander, {
    get(_target, prop) {
      if (prop === 'exec')
        return async (): Promise<[Error | null, unknown][]> => {
          const settled = await Promise.allSettled(
            queued.map(({ name, args }) =>
              (c as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name]!(...args),
            ),
          );
          return settled.map((s) => (s.status === 'fulfilled' ? [null, s.value] : [s.reason as Error, null]));
        };
      if (prop === 'length') return queued.length;
      if (typeof prop !== 'string' || typeof (c as unknown as Record<string, unknown>)[prop] !== 'function')
        return undefined;
      return (...args: unknown[]) => {
        queued.push({ name: prop, args });
        return recorder;
      };
    },
  });
  return recorder;
}
