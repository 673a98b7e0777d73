/**
 * What the BullMQ adapters are given: the application context, plus the Redis connection and
 * queues that only adapters touch (built by src/runtime.ts).
 */
import type { Redis } from 'ioredis';
import type { RedisErrorLog } from '../lib/log-errors.js';
import type { AppContext } from '../app/context.js';
import type { JobDispatcher, Queues } from './job-dispatcher.js';

export interface WorkerContext extends AppContext, JobDispatcher {
  /** ioredis connection created with `maxRetriesPerRequest: null` (BullMQ requires it). */
  connection: Redis;
  /** BullMQ `prefix` of every queue and worker, and of the store's keys. */
  prefix: string;
  queues: Queues;
  /** The process's one log of Redis connection errors (outages logged once, then their end). */
  redisErrors: RedisErrorLog;
}
