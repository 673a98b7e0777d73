/**
 * What the BullMQ adapters are given: the application context, plus the Redis connection and
 * queues that only adapters touch (built by src/runtime.ts).
 */
import type { RedisConnection } from '../lib/redis-connection.js';
import type { RedisErrorLog } from '../lib/log-errors.js';
import type { AppContext } from '../app/context.js';
import type { JobDispatcher, Queues } from './job-dispatcher.js';

export interface WorkerContext extends AppContext, JobDispatcher {
  /** ioredis connection (one server or a cluster) created with `maxRetriesPerRequest: null` (BullMQ requires it). */
  connection: RedisConnection;
  /** Prefix of the store's keys (keys.ts). */
  prefix: string;
  /** BullMQ `prefix` of every queue and worker (hash-tagged on a cluster: jobs/queues.ts `queuePrefixFor`). */
  queuePrefix: string;
  queues: Queues;
  /** The process's one log of Redis connection errors (outages logged once, then their end). */
  redisErrors: RedisErrorLog;
}
