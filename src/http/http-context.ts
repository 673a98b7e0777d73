/**
 * What the HTTP API is given: the application context, plus the Redis connection (health checks,
 * replay protection of deploy events) and the queues (bull-board). The process's context
 * (src/runtime.ts) is one.
 */
import type { Queue } from 'bullmq';
import type { RedisConnection } from '../lib/redis-connection.js';
import type { AppContext } from '../app/context.js';
import type { QueueName } from '../jobs/queues.js';

export interface HttpContext extends AppContext {
  connection: RedisConnection;
  /** Every queue of the process, shown by bull-board. */
  queues: Readonly<Record<keyof typeof QueueName, Queue>>;
}
