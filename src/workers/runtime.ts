/**
 * What every long-running part of the daemon is given by the composition root (src/main.ts):
 * one Redis connection, the injected clock, the logger and the key/queue prefix.
 */
import type { Redis } from 'ioredis';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';

export interface RuntimeDeps {
  /** ioredis connection created with `maxRetriesPerRequest: null` (BullMQ requires it). */
  connection: Redis;
  clock: Clock;
  logger: Logger;
  /** Prefix for store keys and for BullMQ's `prefix` option (default `mpu`). */
  prefix: string;
}

/** A started part of the daemon; `close()` finishes or hands back in-flight jobs. */
export interface Closable {
  close(): Promise<void>;
}
